// Transcript pages: "select all" in the listing, and the engine/model choice on the New
// transcript page. Everything works without this file; it only makes choosing easier.
(() => {
  "use strict";

  // Words in the page's language: window.verbatimT comes from i18n.js, a module the layout
  // runs before this script; without it, the English with its placeholders filled.
  const t = (english, vars) =>
    window.verbatimT
      ? window.verbatimT(english, vars)
      : english.replace(/%\((\w+)\)s/g, (whole, name) => (vars && name in vars ? String(vars[name]) : whole));

  // Listing: one box ticks every row of the page (rows are re-rendered by polling; their
  // boxes are kept by hx-preserve, so this reads them live each time).
  document.addEventListener("change", (event) => {
    const all = event.target.closest("[data-select-all]");
    if (!all) return;
    document.querySelectorAll('input[name="ids"][form="bulk"]').forEach((box) => {
      box.checked = all.checked;
    });
  });

  const model = document.getElementById("opt-model");
  if (!model) return;
  const diarize = document.getElementById("opt-diarize");
  const counts = [
    document.getElementById("opt-min-speakers"),
    document.getElementById("opt-max-speakers"),
  ];
  const note = document.getElementById("diarize-note");
  const compare = document.getElementById("opt-compare");
  const groups = Array.from(model.querySelectorAll("optgroup[data-engine]"));

  // The model list groups "engine:model" pairs by engine; with a script, an engine list
  // comes first and the model list shows that engine's models only.
  const engine = document.createElement("select");
  engine.id = "opt-engine";
  groups.forEach((group) => {
    const option = document.createElement("option");
    option.value = group.dataset.engine;
    option.textContent = group.label;
    engine.append(option);
  });
  const label = document.createElement("label");
  label.append(t("Engine"), " ", engine);
  model.closest("label").before(label);

  function currentGroup() {
    return groups.find((g) => g.dataset.engine === engine.value) || groups[0];
  }

  function applyEngine(keepModel) {
    const group = currentGroup();
    if (!group) return;
    groups.forEach((g) => {
      const mine = g === group;
      g.hidden = !mine;
      g.disabled = !mine;
    });
    if (!keepModel || model.selectedOptions[0]?.parentElement !== group) {
      model.value = group.querySelector("option").value;
    }
    const canDiarize = group.dataset.diarization === "1";
    diarize.disabled = !canDiarize;
    if (!canDiarize) diarize.checked = false;
    note.hidden = canDiarize;
    const title = note.querySelector("[data-engine-title]");
    if (title) title.textContent = group.label;
    applySpeakers();
    // Only models of the chosen engine can be compared with.
    compare.querySelectorAll("option[data-engine]").forEach((option) => {
      const mine = option.dataset.engine === group.dataset.engine;
      option.hidden = !mine;
      option.disabled = !mine;
      if (!mine && option.selected) compare.value = "";
    });
    applyCompare();
  }

  function applySpeakers() {
    counts.forEach((input) => {
      input.disabled = diarize.disabled || !diarize.checked;
    });
  }

  function applyCompare() {
    const chosen = model.value.split(":").slice(1).join(":");
    compare.querySelectorAll("option[data-engine]").forEach((option) => {
      if (option.dataset.engine !== engine.value) return;
      option.disabled = option.value === chosen;
      if (option.disabled && option.selected) compare.value = "";
    });
  }

  const selected = model.selectedOptions[0];
  if (selected && selected.parentElement.dataset.engine) {
    engine.value = selected.parentElement.dataset.engine;
  }
  engine.disabled = model.disabled || model.closest("fieldset")?.disabled;
  engine.addEventListener("change", () => applyEngine(false));
  model.addEventListener("change", applyCompare);
  diarize.addEventListener("change", applySpeakers);
  applyEngine(true);
})();
