"use client";
import Link from "next/link";
import { useRouter, useSearchParams } from "next/navigation";
import { Suspense, useEffect, useRef, useState } from "react";
import { finishSignIn } from "@/lib/oidc";

function Callback() {
  const params = useSearchParams();
  const router = useRouter();
  const [error, setError] = useState<string | null>(null);
  const started = useRef(false);
  useEffect(() => {
    document.title = "Signing in · LogSight";
    // The code is single use: exchange it once, even if React runs the effect twice.
    if (started.current) return;
    started.current = true;
    finishSignIn(params).then(
      (next) => router.replace(next),
      (e: unknown) => setError(e instanceof Error ? e.message : "Sign-in failed."),
    );
  }, [params, router]);
  return error ? (
    <>
      <p role="alert" className="text-sm text-red-700 dark:text-red-300">{error}</p>
      <Link href="/login/" className="btn mt-4">Back to sign-in</Link>
    </>
  ) : (
    <p role="status" className="text-sm">Signing in…</p>
  );
}

export default function CallbackPage() {
  return (
    <main className="flex min-h-screen items-center justify-center p-4">
      <div className="w-full max-w-sm rounded-lg border border-slate-200 bg-white p-6 dark:border-slate-700 dark:bg-slate-900">
        <h1 className="mb-3 text-xl font-semibold">Signing in</h1>
        <Suspense>
          <Callback />
        </Suspense>
      </div>
    </main>
  );
}
