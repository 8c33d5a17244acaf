"use client";
import { useRouter } from "next/navigation";
import { useEffect, useState, type FormEvent } from "react";
import { api, errorMessage } from "@/api/client";
import { unwrap } from "@/lib/usePolling";
import { currentToken, refresh, signIn } from "@/lib/session";

/**
 * Choosing a new password; the first sign-in of the printed admin lands here and cannot go
 * further until it is done. Changing it ends every session, this one's cookie included, so the
 * page signs in again with the new password (a fresh cookie) and ends the session the change
 * returned in its body, which the dashboard has no use for.
 */
export default function ChangePasswordPage() {
  const router = useRouter();
  const [email, setEmail] = useState<string | null>(null);
  const [required, setRequired] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    document.title = "Change password · LogSight";
    (async () => {
      if (!currentToken() && !(await refresh())) return router.replace("/login/?next=/account/password/");
      try {
        const me = unwrap(await api.GET("/api/users/me"));
        setEmail(me.email);
        setRequired(me.password_change_required);
      } catch (e) {
        setError(errorMessage(e));
      }
    })();
  }, [router]);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const current = String(form.get("current"));
    const next = String(form.get("new"));
    if (next !== String(form.get("confirm"))) {
      setError("The two new passwords differ.");
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const changed = unwrap(
        await api.POST("/api/users/me/password", {
          body: { current_password: current, new_password: next, revoke_api_tokens: true },
        }),
      );
      await signIn(email ?? "", next);
      await api.POST("/api/auth/logout", { body: { refresh_token: changed.refresh_token } });
      router.replace("/");
    } catch (e) {
      // A rejected new password names the rule it broke.
      setError(errorMessage(e));
      setBusy(false);
    }
  }

  return (
    <main className="flex min-h-screen items-center justify-center p-4">
      <div className="w-full max-w-sm rounded-lg border border-slate-200 bg-white p-6 shadow-sm dark:border-slate-700 dark:bg-slate-900">
        <h1 className="mb-1 text-xl font-semibold">Choose a new password</h1>
        <p className="mb-4 text-sm text-slate-600 dark:text-slate-300">
          {required
            ? "This account's password was printed when LogSight started: replace it before going on."
            : "Every other session of the account ends, and its API tokens are revoked."}
        </p>
        <form onSubmit={submit} className="space-y-4">
          <input type="email" name="username" autoComplete="username" value={email ?? ""} readOnly hidden />
          <div>
            <label htmlFor="current" className="label">Current password</label>
            <input id="current" name="current" type="password" autoComplete="current-password" required className="input" />
          </div>
          <div>
            <label htmlFor="new" className="label">New password (at least 8 characters)</label>
            <input id="new" name="new" type="password" autoComplete="new-password" minLength={8} required className="input" />
          </div>
          <div>
            <label htmlFor="confirm" className="label">New password again</label>
            <input id="confirm" name="confirm" type="password" autoComplete="new-password" minLength={8} required className="input" />
          </div>
          {error && <p role="alert" className="text-sm text-red-700 dark:text-red-300">{error}</p>}
          <button type="submit" className="btn btn-primary w-full justify-center" disabled={busy || email === null}>
            {busy ? "Saving…" : "Change password"}
          </button>
        </form>
      </div>
    </main>
  );
}
