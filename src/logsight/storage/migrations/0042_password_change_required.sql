-- The first administrator's password is printed in a terminal (and may sit in a log): the
-- dashboard asks for a new one at its first sign-in, and the API says so at login and in /me.
ALTER TABLE users ADD COLUMN password_change_required boolean NOT NULL DEFAULT false;
