"use client";
import Link from "next/link";
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { createContext, Suspense, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { api, type Schemas } from "@/api/client";
import { unwrap } from "@/lib/usePolling";
import { currentToken, refresh, signOut, subscribe } from "@/lib/session";
import { localTimeZone } from "@/lib/format";
import { Spinner, ErrorNote } from "./ui";

type Me = Schemas["UserPublic"];
type Project = Schemas["ProjectPublic"];

interface ShellContext {
  me: Me;
  project: Project;
  projects: Project[];
  /** `href` with the current project kept in its query string. */
  link: (href: string, params?: Record<string, string | undefined>) => string;
}

const Context = createContext<ShellContext | null>(null);

export function useShell(): ShellContext {
  const value = useContext(Context);
  if (!value) throw new Error("useShell outside <Shell>");
  return value;
}

const NAV = [
  { href: "/", label: "Overview" },
  { href: "/live/", label: "Live" },
  { href: "/events/", label: "Events" },
  { href: "/issues/", label: "Issues" },
  { href: "/ingest/", label: "Ingest" },
  { href: "/setup/", label: "Setup" },
];

const LAST_PROJECT = "logsight.project";

/** Pages behind sign-in: restores the session, forces the password change, picks the project. */
export function Shell({ children, title }: { children: ReactNode; title: string }) {
  return (
    <Suspense fallback={<Spinner />}>
      <Gate title={title}>{children}</Gate>
    </Suspense>
  );
}

function Gate({ children, title }: { children: ReactNode; title: string }) {
  const router = useRouter();
  const pathname = usePathname();
  const params = useSearchParams();
  const [me, setMe] = useState<Me | null>(null);
  const [projects, setProjects] = useState<Project[] | null>(null);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    document.title = `${title} · LogSight`;
  }, [title]);

  useEffect(() => {
    let cancelled = false;
    const toLogin = () => {
      const here = `${pathname}${params.size ? `?${params.toString()}` : ""}`;
      router.replace(`/login/?next=${encodeURIComponent(here)}`);
    };
    (async () => {
      if (!currentToken() && !(await refresh())) return toLogin();
      try {
        const user = unwrap(await api.GET("/api/users/me"));
        if (cancelled) return;
        if (user.password_change_required) {
          router.replace("/account/password/");
          return;
        }
        const list = unwrap(await api.GET("/api/projects", { params: { query: { limit: 200 } } }));
        if (cancelled) return;
        setMe(user);
        setProjects(list.data);
      } catch (e) {
        if (!cancelled) setError(e);
      }
    })();
    // Signed out elsewhere in this tab (or the refresh failed): back to the login page.
    const unsubscribe = subscribe(() => {
      if (!currentToken()) toLogin();
    });
    return () => {
      cancelled = true;
      unsubscribe();
    };
    // Once per page: the session does not depend on the query string.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const wanted = params.get("project");
  const project = useMemo(() => {
    if (!projects?.length) return undefined;
    const remembered = typeof window === "undefined" ? null : localStorage.getItem(LAST_PROJECT);
    return (
      projects.find((p) => p.id === wanted) ?? projects.find((p) => p.id === remembered) ?? projects[0]
    );
  }, [projects, wanted]);

  useEffect(() => {
    if (project) localStorage.setItem(LAST_PROJECT, project.id);
  }, [project]);

  if (error) return <main className="p-4"><ErrorNote error={error} onRetry={() => location.reload()} /></main>;
  if (!me || !projects) return <main className="p-4"><Spinner label="Signing in" /></main>;

  const link = (href: string, extra: Record<string, string | undefined> = {}) => {
    const query = new URLSearchParams();
    if (project) query.set("project", project.id);
    for (const [k, v] of Object.entries(extra)) if (v !== undefined && v !== "") query.set(k, v);
    const qs = query.toString();
    return qs ? `${href}?${qs}` : href;
  };

  return (
    <div className="min-h-screen">
      <a href="#main" className="sr-only focus:not-sr-only focus:absolute focus:left-2 focus:top-2 focus:z-50 focus:rounded focus:bg-white focus:p-2 focus:text-slate-900">
        Skip to content
      </a>
      <header className="border-b border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900">
        <div className="mx-auto flex max-w-7xl flex-wrap items-center gap-x-4 gap-y-2 px-3 py-2 sm:px-4">
          <Link href={link("/")} className="font-bold text-indigo-700 dark:text-indigo-300">
            LogSight
          </Link>
          <nav aria-label="Main" className="order-3 w-full overflow-x-auto sm:order-none sm:w-auto">
            <ul className="flex gap-1">
              {NAV.map((item) => {
                const active = item.href === "/" ? pathname === "/" : pathname.startsWith(item.href.slice(0, -1));
                return (
                  <li key={item.href}>
                    <Link
                      href={link(item.href)}
                      aria-current={active ? "page" : undefined}
                      className={`block rounded-md px-3 py-1.5 text-sm font-medium ${active ? "bg-indigo-50 text-indigo-800 dark:bg-indigo-950 dark:text-indigo-100" : "text-slate-700 hover:bg-slate-100 dark:text-slate-200 dark:hover:bg-slate-800"}`}
                    >
                      {item.label}
                    </Link>
                  </li>
                );
              })}
            </ul>
          </nav>
          <div className="ml-auto flex items-center gap-2">
            {projects.length > 0 && project && (
              <>
                <label htmlFor="project-picker" className="sr-only">
                  Project
                </label>
                <select
                  id="project-picker"
                  className="input w-auto max-w-[10rem]"
                  value={project.id}
                  onChange={(e) => {
                    const next = new URLSearchParams(params);
                    next.set("project", e.target.value);
                    router.push(`${pathname}?${next.toString()}`);
                  }}
                >
                  {projects.map((p) => (
                    <option key={p.id} value={p.id}>
                      {p.name}
                    </option>
                  ))}
                </select>
              </>
            )}
            <button
              type="button"
              className="btn"
              title={me.email}
              onClick={async () => {
                await signOut();
                router.replace("/login/");
              }}
            >
              Sign out
            </button>
          </div>
        </div>
      </header>
      <main id="main" className="mx-auto max-w-7xl px-3 py-4 sm:px-4">
        <h1 className="mb-4 text-xl font-semibold">{title}</h1>
        {project ? (
          <Context.Provider value={{ me, project, projects, link }}>{children}</Context.Provider>
        ) : (
          <ErrorNote error={new Error("You have no project yet: ask an owner to add you to one, or create one with `logsight project create`.")} />
        )}
      </main>
    </div>
  );
}

export function useTimeZone(): string {
  const params = useSearchParams();
  return params.get("tz") || localTimeZone();
}
