// Colours. The page follows Telegram's layout: the page on `secondary_bg_color`, cards on
// `section_bg_color`. Telegram's own theme colours do not always reach WCAG AA for text (its
// light theme's grey hint on white is 2.8:1, its blue on white 4.1:1), so every text colour is
// checked against every background it is drawn on and moved toward black or white until it
// reaches 4.5:1. Outside Telegram the page follows `prefers-color-scheme`.

const MIN_CONTRAST = 4.5;

const DARK = {
  bg_color: '#17212b',
  secondary_bg_color: '#0e1621',
  section_bg_color: '#17212b',
  text_color: '#f5f7fa',
  hint_color: '#8b9bab',
  link_color: '#6ab3f3',
  button_color: '#3e6fa8',
  button_text_color: '#ffffff',
  accent_text_color: '#6ab3f3',
  destructive_text_color: '#ef6b6b',
  section_separator_color: '#2b3a4a',
};

const LIGHT = {
  bg_color: '#ffffff',
  secondary_bg_color: '#efeff4',
  section_bg_color: '#ffffff',
  text_color: '#000000',
  hint_color: '#6d6d72',
  link_color: '#1c6fb1',
  button_color: '#1c6fb1',
  button_text_color: '#ffffff',
  accent_text_color: '#1c6fb1',
  destructive_text_color: '#d12c2c',
  section_separator_color: '#d8d8dd',
};

function parseHex(hex) {
  let m = /^#?([0-9a-f]{6})$/i.exec(String(hex || '').trim());
  if (!m) {
    const s = /^#?([0-9a-f])([0-9a-f])([0-9a-f])$/i.exec(String(hex || '').trim());
    if (!s) return null;
    m = [null, s[1] + s[1] + s[2] + s[2] + s[3] + s[3]];
  }
  const n = parseInt(m[1], 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

function toHex(rgb) {
  return '#' + rgb.map((c) => Math.round(Math.max(0, Math.min(255, c))).toString(16).padStart(2, '0')).join('');
}

// Rounded to whole channels, so a colour is checked exactly as it will be drawn.
function mix(a, b, weightOfB) {
  return a.map((c, i) => Math.round(c + (b[i] - c) * weightOfB));
}

function luminance(rgb) {
  const lin = rgb.map((c) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : Math.pow((s + 0.055) / 1.055, 2.4);
  });
  return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2];
}

export function contrast(a, b) {
  const la = luminance(a);
  const lb = luminance(b);
  return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
}

function isDark(rgb) {
  return luminance(rgb) < 0.18;
}

// `fg` moved toward black or white (whichever the backgrounds need) by the smallest step that
// makes it readable on all of them.
function readable(fg, backgrounds) {
  const worst = (c) => Math.min(...backgrounds.map((bg) => contrast(c, bg)));
  if (worst(fg) >= MIN_CONTRAST) return fg;
  const darkBg = backgrounds.every(isDark);
  const targets = darkBg ? [[255, 255, 255], [0, 0, 0]] : [[0, 0, 0], [255, 255, 255]];
  for (const target of targets) {
    for (let step = 1; step <= 20; step++) {
      const c = mix(fg, target, step / 20);
      if (worst(c) >= MIN_CONTRAST) return c;
    }
  }
  return darkBg ? [255, 255, 255] : [0, 0, 0];
}

// A button colour under which `text` is readable: the button darkened (or lightened) as needed.
function buttonUnder(button, text) {
  if (contrast(button, text) >= MIN_CONTRAST) return button;
  const target = isDark(text) ? [255, 255, 255] : [0, 0, 0];
  for (let step = 1; step <= 20; step++) {
    const c = mix(button, target, step / 20);
    if (contrast(c, text) >= MIN_CONTRAST) return c;
  }
  return target;
}

/** The colour scheme outside Telegram: the system's. */
function systemScheme() {
  try {
    return window.matchMedia('(prefers-color-scheme: light)').matches ? 'light' : 'dark';
  } catch (e) {
    return 'dark';
  }
}

/**
 * Computes the palette from Telegram's theme parameters (or the system scheme outside
 * Telegram) and sets it as CSS variables on the root element.
 */
export function applyTheme(tg) {
  const params = tg ? tg.themeParams() : {};
  const given = {};
  Object.keys(params || {}).forEach((k) => {
    if (parseHex(params[k])) given[k] = params[k];
  });
  let scheme = tg ? tg.colorScheme() : null;
  if (!scheme) scheme = given.bg_color ? (isDark(parseHex(given.bg_color)) ? 'dark' : 'light') : tg ? 'dark' : systemScheme();
  const base = scheme === 'light' ? LIGHT : DARK;
  const p = (key) => parseHex(given[key] || base[key]);

  const page = given.secondary_bg_color ? p('secondary_bg_color') : p(given.bg_color ? 'bg_color' : 'secondary_bg_color');
  let card = given.section_bg_color ? p('section_bg_color') : given.bg_color ? p('bg_color') : p('section_bg_color');
  // Cards must stand out from the page even when a theme gives the same colour to both.
  if (contrast(card, page) < 1.04) card = mix(card, isDark(page) ? [255, 255, 255] : [0, 0, 0], 0.06);
  const buttonText = p('button_text_color');
  const button = buttonUnder(p('button_color'), buttonText);
  const cardSelected = mix(card, button, 0.14);
  const surfaces = [page, card, cardSelected];
  const text = readable(p('text_color'), surfaces);
  const hint = readable(p('hint_color'), surfaces);
  const link = readable(p('link_color'), surfaces);
  const accent = readable(given.accent_text_color ? p('accent_text_color') : given.button_color ? p('button_color') : p('accent_text_color'), surfaces);
  const destructiveBase = p('destructive_text_color');
  const alertBg = mix(page, destructiveBase, 0.12);
  const noticeBg = mix(page, [245, 196, 81], 0.16);
  const destructive = readable(destructiveBase, [page, card, alertBg]);
  const separator = given.section_separator_color ? p('section_separator_color') : mix(card, text, 0.14);

  const vars = {
    '--bg': page,
    '--card': card,
    '--card-selected': cardSelected,
    '--text': readable(text, [alertBg, noticeBg, ...surfaces]),
    '--hint': hint,
    '--link': link,
    '--accent': accent,
    '--button': button,
    '--button-text': buttonText,
    '--destructive': destructive,
    '--destructive-border': destructiveBase,
    '--alert-bg': alertBg,
    '--notice-bg': noticeBg,
    '--separator': separator,
  };
  const root = document.documentElement;
  Object.keys(vars).forEach((name) => root.style.setProperty(name, toHex(vars[name])));
  root.setAttribute('data-color-scheme', scheme);
  root.style.colorScheme = scheme;
  const meta = document.querySelector('meta[name="theme-color"]');
  if (meta) meta.setAttribute('content', toHex(page));
  if (tg) tg.setButtonColors(toHex(button), toHex(buttonText));
  return scheme;
}

/** Re-applies the theme when the system scheme changes (outside Telegram only). */
export function followSystemScheme(onChange) {
  try {
    window.matchMedia('(prefers-color-scheme: light)').addEventListener('change', onChange);
  } catch (e) {
    /* old browsers: the scheme stays as loaded */
  }
}
