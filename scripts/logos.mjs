// Writes public/logos/<id>.svg for every file in providers/: the brand's
// icon from the simple-icons npm package (CC0) in its brand colour where
// the package has it, otherwise a generated monogram, so no card shows a
// broken image. Records what came from where in public/logos/LICENSE.md.
// Run through scripts/logos.sh, which installs simple-icons first.
import fs from "node:fs";
import path from "node:path";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const pkg = path.join(root, ".tools", "node_modules", "simple-icons");
const iconsDir = path.join(pkg, "icons");
const version = JSON.parse(fs.readFileSync(path.join(pkg, "package.json"), "utf8")).version;
const data = JSON.parse(fs.readFileSync(path.join(pkg, "data", "simple-icons.json"), "utf8"));
const colours = new Map(data.map((icon) => [icon.slug ?? slugOf(icon.title), icon.hex]));

// Where the simple-icons slug is not the id without dashes.
const SLUGS = { "microsoft-outlook-mail": "microsoftoutlook", "microsoft-outlook-calendar": "microsoftoutlook" };

function slugOf(title) {
  return title.toLowerCase().replace(/\+/g, "plus").replace(/\./g, "dot").replace(/&/g, "and").replace(/[^a-z0-9]/g, "");
}

function field(text, key) {
  const match = text.match(new RegExp(`^${key} = "([^"]*)"`, "m"));
  return match ? match[1] : "";
}

function escape(s) {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** A rounded square with the name's initials, its colour derived from the id. */
function monogram(id, name) {
  const words = name.replace(/[^\p{L}\p{N} ]/gu, " ").split(/\s+/).filter(Boolean);
  // A short first word is a name of its own ("1C"); otherwise two initials.
  const first = words[0] ?? id;
  const initials = (first.length <= 2 || words.length < 2 ? first.slice(0, 2) : first[0] + words[1][0]).toUpperCase();
  let hash = 0;
  for (const c of id) hash = (hash * 31 + c.codePointAt(0)) % 360;
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" role="img"><title>${escape(name)}</title>` +
    `<rect width="24" height="24" rx="5" fill="hsl(${hash} 45% 38%)"/>` +
    `<text x="12" y="16.2" text-anchor="middle" font-family="system-ui,sans-serif" font-size="10" font-weight="700" fill="#fff">${escape(initials)}</text></svg>\n`;
}

const out = path.join(root, "public", "logos");
fs.mkdirSync(out, { recursive: true });
const rows = [];
for (const file of fs.readdirSync(path.join(root, "providers")).filter((f) => f.endsWith(".toml")).sort()) {
  const text = fs.readFileSync(path.join(root, "providers", file), "utf8");
  const id = field(text, "id");
  const name = field(text, "name");
  const logo = field(text, "logo") || `${id}.svg`;
  const slug = SLUGS[id] ?? id.replace(/-/g, "");
  const icon = path.join(iconsDir, `${slug}.svg`);
  if (fs.existsSync(icon)) {
    const hex = colours.get(slug) ?? "1f2937";
    const svg = fs.readFileSync(icon, "utf8").replace("<svg ", `<svg fill="#${hex}" `);
    fs.writeFileSync(path.join(out, logo), svg.endsWith("\n") ? svg : svg + "\n");
    rows.push(`| ${logo} | simple-icons ${version}, icon \`${slug}\` | CC0 1.0 |`);
  } else {
    fs.writeFileSync(path.join(out, logo), monogram(id, name));
    rows.push(`| ${logo} | generated monogram (simple-icons ${version} has no \`${slug}\`) | CC0 1.0 |`);
  }
}
// The console's own demo provider (the sandbox crate) has no file in
// providers/; it always gets a monogram.
fs.writeFileSync(path.join(out, "sandbox.svg"), monogram("sandbox", "Sandbox demo"));
rows.push("| sandbox.svg | generated monogram (Patchbay's own demo provider) | CC0 1.0 |");
fs.writeFileSync(path.join(out, "LICENSE.md"), `# Provider logos

Written by \`scripts/logos.sh\`; do not edit by hand. Brand icons come from the
[simple-icons](https://www.npmjs.com/package/simple-icons) npm package, released
under CC0 1.0; the brands themselves remain trademarks of their owners, shown
here only to identify each integration. Providers the package lacks get a
generated monogram.

| File | Source | License |
|---|---|---|
${rows.join("\n")}
`);
console.log(`wrote ${rows.length} logos to public/logos`);
