/** The Chromium binary the browser tests and screenshots drive (Debian's; FERRY_CHROMIUM overrides it). */
export declare const CHROMIUM: string;
/** Its launch flags: headless, no sandbox (root), no network at start. */
export declare const CHROMIUM_ARGS: string[];
