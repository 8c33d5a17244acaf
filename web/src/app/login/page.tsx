"use client";
import { useRouter, useSearchParams } from "next/navigation";
import { Suspense, useEffect, useState, type FormEvent } from "react";
import { api, type Schemas } from "@/api/client";
import { ClerkSignIn, usesClerk } from "@/components/AuthProvider";
import { startSignIn } from "@/lib/oidc";
import { refresh, signIn } from "@/lib/session";

/** Only a path of this site: never an open redirect. */
function safeNext(value: string | null): string {
  return value && value.startsWith("/") && !value.startsWith("//") ? value : "/";
}

function LoginForm() {
  const router = useRouter();
  const params = useSearchParams();
  const next = safeNext(params.get("next"));
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [options, setOptions] = useState<Schemas["SignInOptions"] | null>(null);

  useEffect(() => {
    // Without an answer, offer the built-in accounts: the API says so when they are off.
    void api.GET("/api/auth/options").then(
      (r) => setOptions(r.data ?? { builtin: true, oidc_issuer: null, oidc_client_id: null }),
      () => setOptions({ builtin: true, oidc_issuer: null, oidc_client_id: null }),
    );
  }, []);

  useEffect(() => {
    document.title = "Sign in · LogSight";
    // Already signed in (a live cookie): straight on.
    void refresh().then((ok) => ok && router.replace(next));
  }, [router, next]);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setBusy(true);
    setError(null);
    try {
      const session = await signIn(String(form.get("email")), String(form.get("password")));
      router.replace(session.password_change_required ? "/account/password/" : next);
    } catch (e) {
      setError(e instanceof Error ? e.message : "Sign-in failed.");
      setBusy(false);
    }
  }

  if (usesClerk()) return <ClerkSignIn next={next} />;
  const oidc = options?.oidc_issuer && options.oidc_client_id ? { issuer: options.oidc_issuer, clientId: options.oidc_client_id } : null;
  return (
    <div className="space-y-4">
      {oidc && (
        <button
          type="button"
          className="btn btn-primary w-full justify-center"
          onClick={() => startSignIn(oidc.issuer, oidc.clientId, next).catch((e: unknown) => setError(e instanceof Error ? e.message : "Sign-in failed."))}
        >
          Sign in with {new URL(oidc.issuer).host}
        </button>
      )}
      {(options?.builtin ?? true) && <form onSubmit={submit} className="space-y-4" aria-describedby={error ? "login-error" : undefined}>
      <div>
        <label htmlFor="email" className="label">
          Email
        </label>
        <input id="email" name="email" type="email" autoComplete="username" required className="input" />
      </div>
      <div>
        <label htmlFor="password" className="label">
          Password
        </label>
        <input id="password" name="password" type="password" autoComplete="current-password" required className="input" />
      </div>
      {error && (
        <p id="login-error" role="alert" className="text-sm text-red-700 dark:text-red-300">
          {error}
        </p>
      )}
      <button type="submit" className="btn btn-primary w-full justify-center" disabled={busy}>
        {busy ? "Signing in…" : "Sign in"}
      </button>
    </form>}
      {error && !(options?.builtin ?? true) && <p role="alert" className="text-sm text-red-700 dark:text-red-300">{error}</p>}
    </div>
  );
}

export default function LoginPage() {
  return (
    <main className="flex min-h-screen items-center justify-center p-4">
      <div className="w-full max-w-sm rounded-lg border border-slate-200 bg-white p-6 shadow-sm dark:border-slate-700 dark:bg-slate-900">
        <h1 className="mb-1 text-xl font-semibold">Sign in to LogSight</h1>
        <p className="mb-4 text-sm text-slate-600 dark:text-slate-300">
          First start? Use <code>admin@localhost</code> and the password <code>logsight local</code> printed.
        </p>
        <Suspense>
          <LoginForm />
        </Suspense>
      </div>
    </main>
  );
}
