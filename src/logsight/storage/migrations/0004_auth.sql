-- A password change or a disabled account revokes every refresh-token family of the user;
-- deleting a user cascades to their tokens. Both look tokens up by user.
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id);
