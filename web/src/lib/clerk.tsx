"use client";
/**
 * Clerk, in builds made with NEXT_PUBLIC_CLERK_PUBLISHABLE_KEY: its React SDK signs users in
 * and keeps their session; the dashboard asks it for a token for each API call (the API checks
 * it against LOGSIGHT_CLERK_ISSUER_URL). Only loaded, through next/dynamic, when the key is set.
 */
import { ClerkProvider, SignIn, useAuth, useClerk } from "@clerk/clerk-react";
import { useEffect, useState, type ReactNode } from "react";
import { setExternalSession } from "./session";

export const CLERK_KEY = process.env.NEXT_PUBLIC_CLERK_PUBLISHABLE_KEY ?? "";

function Bridge({ children }: { children: ReactNode }) {
  const { isLoaded, getToken } = useAuth();
  const clerk = useClerk();
  const [ready, setReady] = useState(false);
  useEffect(() => {
    if (!isLoaded) return;
    setExternalSession({ token: () => getToken(), signOut: () => clerk.signOut() });
    setReady(true);
  }, [isLoaded, getToken, clerk]);
  return ready ? <>{children}</> : null;
}

export function ClerkGate({ children }: { children: ReactNode }) {
  return (
    <ClerkProvider publishableKey={CLERK_KEY} afterSignOutUrl="/login/">
      <Bridge>{children}</Bridge>
    </ClerkProvider>
  );
}

export function ClerkSignIn({ next }: { next: string }) {
  return <SignIn routing="hash" forceRedirectUrl={next} />;
}
