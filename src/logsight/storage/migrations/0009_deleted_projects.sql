-- Events and rollups carry no foreign key (they are the hot path): when a project is deleted
-- its rows are purged by `logsight maintain`, in the background, from this list.
CREATE TABLE deleted_projects (
    project_id  uuid PRIMARY KEY,
    deleted_at  timestamptz NOT NULL DEFAULT now()
);
