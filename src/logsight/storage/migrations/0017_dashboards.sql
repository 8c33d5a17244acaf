-- Custom dashboards: a named grid of widgets per project (logsight.tenancy.dashboards writes
-- them, logsight.query.dashboards reads them; the widgets' shape is logsight.dashboard_schema).

CREATE TABLE dashboards (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id  uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name        text NOT NULL,
    time_range  text NOT NULL DEFAULT '24h',
    widgets     jsonb NOT NULL DEFAULT '[]',
    -- Raised by every change: a client replaces what it read, or is told it changed meanwhile.
    version     integer NOT NULL DEFAULT 1,
    created_by  uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dashboards_project_idx ON dashboards (project_id, created_at, id);

-- Every project starts with this dashboard, however it was created (the API, `logsight local`,
-- the CLI): the trigger creates it in the transaction that creates the project, and the
-- statement below gives one to every project that exists already. A test reads it back
-- through the API's models, so it stays valid.
CREATE FUNCTION logsight_default_dashboard(project uuid) RETURNS void LANGUAGE sql AS $$
    INSERT INTO dashboards (project_id, name, time_range, widgets) VALUES (project, 'Overview', '24h', '[
        {"id": "events", "title": "Events", "kind": "timeseries", "metric": "count",
         "layout": {"x": 0, "y": 0, "w": 8, "h": 4}},
        {"id": "users", "title": "Unique users", "kind": "number", "metric": "users",
         "layout": {"x": 8, "y": 0, "w": 4, "h": 4}},
        {"id": "errors", "title": "Errors", "kind": "bar", "metric": "count",
         "filters": {"type": ["error"]}, "layout": {"x": 0, "y": 4, "w": 6, "h": 4}},
        {"id": "top-events", "title": "Top events", "kind": "table", "metric": "count",
         "group_by": {"by": "name"}, "top": 10, "layout": {"x": 6, "y": 4, "w": 6, "h": 4}},
        {"id": "releases", "title": "Events by release", "kind": "timeseries", "metric": "count",
         "group_by": {"by": "release"}, "layout": {"x": 0, "y": 8, "w": 12, "h": 4}}
    ]'::jsonb)
$$;

CREATE FUNCTION logsight_project_default_dashboard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM logsight_default_dashboard(NEW.id);
    RETURN NULL;
END
$$;

CREATE TRIGGER projects_default_dashboard AFTER INSERT ON projects
    FOR EACH ROW EXECUTE FUNCTION logsight_project_default_dashboard();

SELECT logsight_default_dashboard(id) FROM projects;
