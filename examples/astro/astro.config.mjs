// A minimal Astro site over Newsroom's files: src/content/articles/{lang}/{slug}.md, covers in public/covers.
import { defineConfig } from "astro/config";

export default defineConfig({
  output: "static",
  trailingSlash: "always",
});
