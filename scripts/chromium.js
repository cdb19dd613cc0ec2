// Debian's Chromium, as the browser tests and scripts/screenshots.js drive it with playwright-core (no browser
// download). The flags keep it from reaching the network at start, which this machine's closed network refuses.
export const CHROMIUM = process.env.FERRY_CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--headless',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
