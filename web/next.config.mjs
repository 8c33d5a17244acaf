/** A static export: the local gateway and CloudFront serve out/ beside /api. */
const config = {
  output: "export",
  // Each route is <route>/index.html: a directory path maps to one file on any static server.
  trailingSlash: true,
  images: { unoptimized: true },
  reactStrictMode: true,
  poweredByHeader: false,
  // The export is checked by `npm run lint` and `npm run typecheck` (make test), not twice.
  eslint: { ignoreDuringBuilds: true },
};

export default config;
