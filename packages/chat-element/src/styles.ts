// The element's stylesheet. Every colour, font and radius comes from a CSS custom property the
// host page may set on <switchboard-chat> (they inherit into the shadow tree).
export const css = `
:host {
  --_accent: var(--sb-accent, var(--_brand, #2563eb));
  --_bg: var(--sb-bg, #ffffff);
  --_fg: var(--sb-fg, #111827);
  --_muted: var(--sb-muted, #6b7280);
  --_radius: var(--sb-radius, 12px);
  --_font: var(--sb-font, system-ui, -apple-system, 'Segoe UI', sans-serif);
  --_accent-fg: var(--sb-accent-fg, #ffffff);
  --_bubble: var(--sb-bubble-bg, #f3f4f6);
  font-family: var(--_font);
  color: var(--_fg);
  display: block;
}
:host([mode='launcher']) { display: contents; }
:host([mode='thread']) { height: 100%; }
[hidden] { display: none !important; }
.sr-only {
  position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px;
  overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0;
}
button { font: inherit; cursor: pointer; }
:focus-visible { outline: 2px solid var(--_accent); outline-offset: 2px; }
.launcher {
  position: fixed; right: var(--sb-offset, 20px); bottom: var(--sb-offset, 20px); z-index: var(--sb-z, 2147483000);
  border: 0; border-radius: 999px; padding: 12px 18px; background: var(--_accent); color: var(--_accent-fg);
  box-shadow: 0 6px 20px rgb(0 0 0 / 0.2); font-weight: 600;
}
.panel {
  display: flex; flex-direction: column; box-sizing: border-box; background: var(--_bg); color: var(--_fg);
  border-radius: var(--_radius); overflow: hidden; font-family: var(--_font);
}
:host([mode='launcher']) .panel {
  position: fixed; right: var(--sb-offset, 20px); bottom: calc(var(--sb-offset, 20px) + 64px);
  width: var(--sb-width, 360px); height: var(--sb-height, 520px); max-height: calc(100vh - 100px);
  z-index: var(--sb-z, 2147483000); box-shadow: 0 12px 40px rgb(0 0 0 / 0.25);
}
:host([mode='panel']) .panel {
  width: 100%; height: var(--sb-height, 100%); min-height: 320px; border: 1px solid rgb(0 0 0 / 0.1);
}
:host([mode='thread']) .panel { height: 100%; border-radius: 0; }
:host([preview][mode='panel']) { display: flex; flex-direction: column; }
:host([preview][mode='panel']) .launcher { position: static; order: 1; align-self: flex-end; margin-top: 12px; }
header {
  display: flex; align-items: center; gap: 8px; padding: 12px 14px; background: var(--_accent); color: var(--_accent-fg);
}
header h2 { font-size: 1rem; margin: 0; flex: 1; }
.avatar { width: 32px; height: 32px; border-radius: 50%; object-fit: cover; flex: none; background: rgb(255 255 255 / 0.2); }
.offline { margin: 0; padding: 8px 14px; font-size: 0.85rem; background: var(--_bubble); color: var(--_fg); border-bottom: 1px solid rgb(0 0 0 / 0.08); }
/* Full strength: white at 0.8rem on the default accent is just above 4.5:1; any fading drops below. */
.status { font-size: 0.8rem; }
.close { border: 0; background: transparent; color: inherit; font-size: 1.4rem; line-height: 1; padding: 2px 6px; }
.messages { list-style: none; margin: 0; padding: 12px; flex: 1; overflow-y: auto; display: flex; flex-direction: column; gap: 8px; }
.msg { max-width: 80%; padding: 8px 12px; border-radius: var(--_radius); background: var(--_bubble); white-space: pre-wrap; overflow-wrap: anywhere; }
.msg.visitor { align-self: flex-end; background: var(--_accent); color: var(--_accent-fg); }
.msg.pending { opacity: 0.6; }
.msg .who { display: block; font-size: 0.75em; font-weight: 600; }
.msg.system { align-self: center; background: transparent; color: var(--_muted); font-size: 0.85rem; }
.buttons { display: flex; flex-wrap: wrap; gap: 6px; margin-top: 6px; }
.buttons button { border: 1px solid var(--_accent); color: var(--_accent); background: var(--_bg); border-radius: 999px; padding: 4px 10px; }
.typing, .conn { padding: 0 14px 6px; font-size: 0.8rem; color: var(--_muted); }
form { display: flex; gap: 8px; padding: 10px; border-top: 1px solid rgb(0 0 0 / 0.08); }
textarea {
  flex: 1; resize: none; font: inherit; color: var(--_fg); background: var(--_bg);
  border: 1px solid rgb(0 0 0 / 0.2); border-radius: calc(var(--_radius) / 2); padding: 8px;
}
.send { border: 0; border-radius: calc(var(--_radius) / 2); background: var(--_accent); color: var(--_accent-fg); padding: 0 14px; font-weight: 600; }
.attach { display: inline-flex; align-items: center; justify-content: center; border: 1px solid rgb(0 0 0 / 0.2); border-radius: calc(var(--_radius) / 2); background: var(--_bg); color: var(--_fg); padding: 0 10px; }
.attach-progress { height: 4px; margin: 0 10px; background: var(--_bubble); border-radius: 2px; overflow: hidden; }
.attach-bar { height: 100%; width: 0; background: var(--_accent); transition: width 0.1s linear; }
.attach-error { margin: 0; padding: 6px 14px; font-size: 0.85rem; color: var(--sb-error, #b91c1c); }
.panel.dragging { outline: 2px dashed var(--_accent); outline-offset: -4px; }
.attachment-image { display: block; max-width: 100%; max-height: 240px; margin-top: 4px; border-radius: calc(var(--_radius) / 2); }
.attachment-file { color: inherit; text-decoration: underline; overflow-wrap: anywhere; }
/* offline and ratings */
.contact, .rating { display: flex; flex-wrap: wrap; align-items: center; gap: 6px; padding: 8px 10px; border-top: 1px solid rgb(0 0 0 / 0.08); font-size: 0.9rem; }
.contact label, .rating > label { flex-basis: 100%; }
.contact input { flex: 1; font: inherit; color: var(--_fg); background: var(--_bg); border: 1px solid rgb(0 0 0 / 0.2); border-radius: calc(var(--_radius) / 2); padding: 6px 8px; }
.contact input[aria-invalid='true'] { border-color: var(--sb-error, #b91c1c); }
.contact button, .rating button { border: 0; border-radius: calc(var(--_radius) / 2); background: var(--_accent); color: var(--_accent-fg); padding: 6px 12px; font-weight: 600; }
.contact-note, .rating-note { flex-basis: 100%; margin: 0; font-size: 0.85rem; color: var(--_muted); }
.contact-note:empty, .rating-note:empty { display: none; }
.rating fieldset { border: 0; margin: 0; padding: 0; flex-basis: 100%; }
.rating legend { padding: 0; margin-bottom: 4px; font-weight: 600; }
.stars { display: flex; gap: 2px; }
.star { font-size: 1.6rem; line-height: 1; color: rgb(0 0 0 / 0.25); cursor: pointer; padding: 0 2px; border-radius: 4px; }
.star.on { color: #f5a623; }
.star:has(input:focus-visible) { outline: 2px solid var(--_accent); outline-offset: 1px; }
.rating textarea { flex: 1 1 100%; }
/* rich replies */
.buttons button.chosen { background: var(--_accent); color: var(--_accent-fg); }
.buttons button:disabled:not(.chosen) { opacity: 0.6; }
.choose { display: flex; gap: 6px; padding: 0; border: 0; margin-top: 6px; }
.choose select { flex: 1; font: inherit; min-height: 36px; }
.choose button { border: 0; border-radius: calc(var(--_radius) / 2); background: var(--_accent); color: var(--_accent-fg); padding: 4px 12px; }
/* phone: the open launcher panel takes the whole screen, inside the safe area (the host page
   needs viewport-fit=cover); dvh follows the on-screen keyboard, so the composer stays visible. */
@media (max-width: 600px) {
  :host([mode='launcher']) .panel {
    inset: 0; width: 100vw; height: 100vh; height: 100dvh; height: var(--sb-vh, 100dvh); max-height: none;
    border-radius: 0; box-shadow: none;
    padding: env(safe-area-inset-top) env(safe-area-inset-right) env(safe-area-inset-bottom) env(safe-area-inset-left);
  }
  :host([mode='launcher']) .panel:not([hidden]) ~ .launcher, :host([mode='launcher']) .launcher[aria-expanded='true'] { display: none; }
  .close { min-width: 44px; min-height: 44px; font-size: 1.8rem; }
  textarea { font-size: 16px; }
}
/* ticks */
.msg .ticks { display: block; text-align: right; font-size: 0.75em; white-space: nowrap; opacity: 0.75; }
/* read: coloured (light on the accent bubble), fully opaque */
.msg .ticks[data-state='read'] { color: var(--sb-read-tick, #bae6fd); font-weight: 700; opacity: 1; }
`;
