// A minimal Nuxt Content site over Newsroom's files: content/articles/{lang}/{slug}.md, covers in public/covers.
export default defineNuxtConfig({
  modules: ["@nuxt/content"],
  compatibilityDate: "2025-07-15",
  devtools: { enabled: false },
  telemetry: false,
  content: {
    database: { type: "sqlite", filename: ".data/content/contents.sqlite" },
    experimental: { sqliteConnector: "native" },
  },
  nitro: {
    prerender: { crawlLinks: true, routes: ["/"], failOnError: true },
  },
});
