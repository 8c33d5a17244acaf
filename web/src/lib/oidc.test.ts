import { describe, expect, it } from "vitest";
import { base64url, challengeOf, randomToken } from "./oidc";

describe("PKCE", () => {
  it("computes the S256 challenge of RFC 7636's example", async () => {
    expect(await challengeOf("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")).toBe("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
  });
  it("makes URL-safe random verifiers of the allowed length", () => {
    const verifier = randomToken(48);
    expect(verifier).toMatch(/^[A-Za-z0-9_-]{64}$/);
    expect(randomToken(48)).not.toBe(verifier);
    expect(base64url(new Uint8Array([251, 255]))).toBe("-_8");
  });
});
