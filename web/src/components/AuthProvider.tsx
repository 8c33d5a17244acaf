"use client";
import dynamic from "next/dynamic";
import type { ReactNode } from "react";

// Inlined at build time: without the key, Clerk's SDK is never loaded.
const CLERK = Boolean(process.env.NEXT_PUBLIC_CLERK_PUBLISHABLE_KEY);

const ClerkGate = dynamic(() => import("@/lib/clerk").then((m) => m.ClerkGate), { ssr: false });
export const ClerkSignIn = dynamic(() => import("@/lib/clerk").then((m) => m.ClerkSignIn), { ssr: false });

export function usesClerk(): boolean {
  return CLERK;
}

export function AuthProvider({ children }: { children: ReactNode }) {
  return CLERK ? <ClerkGate>{children}</ClerkGate> : <>{children}</>;
}
