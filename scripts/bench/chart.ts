import { chromium } from "playwright-core";

/** Renders a small bar chart (SVG in a page) to PNG with Debian's Chromium. */
export async function renderBarChart(file: string, title: string, bars: { label: string; value: number; unit: string }[]): Promise<void> {
  const max = Math.max(...bars.map((b) => b.value), 1);
  const rows = bars
    .map((b, i) => {
      const y = 50 + i * 44;
      const w = Math.max(2, (b.value / max) * 520);
      return `<text x="10" y="${y + 20}" font-size="14">${b.label}</text><rect x="230" y="${y}" width="${w}" height="28" fill="#3d7be0"/><text x="${236 + w}" y="${y + 20}" font-size="13">${b.value.toFixed(1)} ${b.unit}</text>`;
    })
    .join("");
  const height = 70 + bars.length * 44;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="860" height="${height}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/><text x="10" y="28" font-size="17" font-weight="bold">${title}</text>${rows}</svg>`;
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"] });
  try {
    const page = await browser.newPage({ viewport: { width: 860, height } });
    await page.setContent(`<body style="margin:0">${svg}</body>`);
    await page.screenshot({ path: file });
  } finally {
    await browser.close();
  }
}
