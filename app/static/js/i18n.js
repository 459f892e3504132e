// The scripts' words in the page's language.
//
// templates/base.html puts <script type="application/json" id="i18n-strings"> in every
// page: English -> this page's language, for the strings that differ (app/i18n/
// js_strings.py lists them all, so `pybabel extract` puts them in the catalogue). t() looks
// a string up by its English and fills %(name)s placeholders from `vars`, as gettext does on
// the server, so one msgid serves both; with `vars`, "%%" is a literal "%".
//
// Every t() takes a plain string literal (tests/i18n/test_js_strings.py checks each one is
// listed): never a template literal or a string built from pieces.
//
// An ES module for the modules; the classic scripts (upload.js, recorder.js, ...) call
// window.verbatimT, set below. The layout loads modules that import this file before any
// page's own scripts run, as deferred scripts and modules run in document order.

function read() {
  try {
    const node = document.getElementById("i18n-strings");
    const data = node ? JSON.parse(node.textContent || "{}") : {};
    return data && typeof data === "object" && !Array.isArray(data) ? data : {};
  } catch (_err) {
    return {}; // a page without the block (or a broken one) reads in English
  }
}

const catalogue = read();

function fill(text, vars) {
  return text.replace(/%\((\w+)\)s|%%/g, (whole, name) => {
    if (name === undefined) return "%";
    return Object.prototype.hasOwnProperty.call(vars, name) ? String(vars[name]) : whole;
  });
}

/** `english` in the page's language, with %(name)s filled from `vars`. */
export function t(english, vars) {
  const text = Object.prototype.hasOwnProperty.call(catalogue, english) ? catalogue[english] : english;
  return vars ? fill(text, vars) : text;
}

/** The page's language ("en", "de", "fr"), for Intl formatting of numbers and dates. */
export function locale() {
  return document.documentElement.lang || "en";
}

window.verbatimT = t;
