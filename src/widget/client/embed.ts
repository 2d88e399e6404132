// The loader every customer page includes. It must never break the host page: everything runs
// inside try/catch, nothing but `window.SwitchboardChat` is defined, and the launcher and iframe
// live in a closed shadow root so the host's CSS cannot reach them (nor ours the host).
import {
  CLOSE,
  CLOSED,
  MINIMIZE,
  OPEN,
  OPENED,
  READY,
  SET_NAME,
  UNREAD,
  isWireMessage,
  type WireMessage,
} from './protocol.js';

type Api = {
  open(): void;
  close(): void;
  toggle(): void;
  setName(name: string): void;
  readonly unread: number;
};

const CSS =
  ':host{all:initial}' +
  '.b{position:fixed;right:20px;bottom:20px;width:56px;height:56px;border-radius:50%;border:0;padding:0;margin:0;' +
  'background:#1d4ed8;color:#fff;cursor:pointer;box-shadow:0 4px 16px rgba(0,0,0,.25);z-index:2147483647;' +
  'display:flex;align-items:center;justify-content:center}' +
  '.b:hover{background:#1e40af}.b:focus-visible{outline:3px solid #1d4ed8;outline-offset:3px}' +
  '.b svg{width:28px;height:28px;fill:currentColor}.b .x,.o .b .c{display:none}.o .b .x{display:block}' +
  '.n{position:absolute;top:-4px;right:-4px;min-width:20px;height:20px;border-radius:10px;padding:0 6px;' +
  'box-sizing:border-box;background:#b91c1c;color:#fff;font:700 12px/20px system-ui,sans-serif}' +
  '.n[hidden]{display:none}' +
  '.f{position:fixed;right:20px;bottom:88px;width:380px;height:560px;max-width:calc(100vw - 40px);' +
  'max-height:calc(100vh - 108px);border:0;border-radius:12px;background:#fff;' +
  'box-shadow:0 8px 32px rgba(0,0,0,.18);z-index:2147483647;display:none}' +
  '.o .f{display:block}' +
  // Phones: the open chat takes the whole screen (inside the safe area; the host page needs
  // viewport-fit=cover for the insets to be non-zero). dvh follows the on-screen keyboard; the
  // visualViewport handler below sets --sb-vh for browsers where it does not.
  '@media (max-width:600px){.o .f{inset:0;top:0;left:0;right:0;bottom:0;width:100vw;max-width:none;' +
  'height:100vh;height:100dvh;height:var(--sb-vh,100dvh);max-height:none;border-radius:0;box-shadow:none;' +
  'padding:env(safe-area-inset-top) env(safe-area-inset-right) env(safe-area-inset-bottom) env(safe-area-inset-left);' +
  'box-sizing:border-box;background:#1d4ed8}.o .b{display:none}}';

/** Below this width the open widget is full screen and the host page is locked behind it. */
const PHONE = '(max-width: 600px)';

const ICONS =
  '<svg class="c" viewBox="0 0 24 24" aria-hidden="true"><path d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z"/></svg>' +
  '<svg class="x" viewBox="0 0 24 24" aria-hidden="true"><path d="M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12l5.6 5.6-1.4 1.4-5.6-5.6L6.4 19 5 17.6l5.6-5.6L5 6.4z"/></svg>';

function newSessionId(): string {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return 'v_' + Array.from(bytes, (b) => (b < 16 ? '0' : '') + b.toString(16)).join('');
}

/** The visitor's persistent id for this token (`cw_sid_{token}`); per page view if storage is blocked. */
function sessionId(token: string): string {
  const key = 'cw_sid_' + token;
  try {
    let id = localStorage.getItem(key);
    if (!id) {
      id = newSessionId();
      localStorage.setItem(key, id);
    }
    return id;
  } catch {
    return newSessionId();
  }
}

function start(): void {
  const w = window as Window & { SwitchboardChat?: Api };
  if (w.SwitchboardChat) return; // the snippet pasted twice
  const script =
    (document.currentScript as HTMLScriptElement | null) ??
    document.querySelector<HTMLScriptElement>('script[data-embed-token][src*="/chat-widget/embed.js"]');
  const token = script?.getAttribute('data-embed-token');
  if (!script || !token) return;
  const base = new URL(script.src, location.href).origin;
  const hostOrigin = location.origin;

  let open = false;
  let unread = 0;
  let ready = false;
  let pendingName: string | null = null;
  let frame: HTMLIFrameElement | null = null;

  const root = document.createElement('div');
  root.setAttribute('data-switchboard-chat', '');
  const shadow = root.attachShadow({ mode: 'closed' });
  const box = document.createElement('div');
  // A constructed stylesheet is not subject to the host page's CSP (a <style> element is, and
  // sites with a strict style-src would get an unstyled launcher); <style> only as a fallback.
  let style: HTMLStyleElement | null = null;
  try {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
    shadow.adoptedStyleSheets = [sheet];
  } catch {
    style = document.createElement('style');
    style.textContent = CSS;
  }
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'b';
  button.innerHTML = ICONS; // a constant: no data ever goes through innerHTML
  const badge = document.createElement('span');
  badge.className = 'n';
  badge.hidden = true;
  badge.setAttribute('aria-hidden', 'true');
  button.appendChild(badge);
  box.append(button);
  if (style) shadow.append(style);
  shadow.append(box);

  const toHost = (msg: WireMessage) => {
    try {
      window.postMessage(msg, hostOrigin);
    } catch {
      // An opaque origin (sandboxed host page) cannot be named as a target: no events then.
    }
  };
  const toWidget = (msg: WireMessage) => {
    if (frame?.contentWindow && ready) frame.contentWindow.postMessage(msg, base);
  };

  function label(): void {
    const what = open ? 'Close chat' : 'Open chat';
    button.setAttribute('aria-label', unread ? `${what}, ${unread} unread` : what);
    button.setAttribute('aria-expanded', String(open));
    badge.textContent = unread > 99 ? '99+' : String(unread);
    badge.hidden = unread === 0;
  }

  function ensureFrame(): HTMLIFrameElement {
    if (frame) return frame;
    // A signed-in user of the site: the site's backend gives their id and its user_hash
    // (hex(hmac_sha256(tenant_secret, id))); anyone else gets a random visitor id of their own.
    const userId = script!.getAttribute('data-user-id');
    const userHash = script!.getAttribute('data-user-hash');
    const params = new URLSearchParams({
      embed_token: token!,
      session_id: userId && userHash ? userId : sessionId(token!),
      launcher: '1',
    });
    if (userId && userHash) params.set('user_hash', userHash);
    if (hostOrigin !== 'null') params.set('origin', hostOrigin);
    // For the agents' visitor panel: the page the visitor is on and where they came from.
    if (/^https?:/.test(location.href)) params.set('page_url', location.href.slice(0, 2000));
    if (document.referrer) params.set('referrer', document.referrer.slice(0, 2000));
    const title = script!.getAttribute('data-title');
    const name = script!.getAttribute('data-customer-name');
    if (title) params.set('title', title);
    if (name) params.set('customer_name', name);
    frame = document.createElement('iframe');
    frame.className = 'f';
    frame.id = 'switchboard-chat-frame';
    frame.title = title || 'Chat';
    // The server checks the host origin from the Referer; make sure the browser sends it.
    frame.referrerPolicy = 'origin';
    frame.setAttribute(
      'sandbox',
      'allow-scripts allow-same-origin allow-forms allow-popups allow-popups-to-escape-sandbox allow-downloads',
    );
    frame.src = `${base}/chat-widget?${params}`;
    button.setAttribute('aria-controls', frame.id);
    box.append(frame);
    return frame;
  }

  // Host page scroll lock while the full-screen widget is open on a phone. CSSOM properties, not a
  // style attribute, so a strict style-src on the host page does not block them.
  // iOS Safari ignores overflow:hidden for touch scrolling, and a focus inside the frame may
  // scroll the page: while locked, any scroll is put back where the visitor left the page.
  let locked: { overflow: string; bodyOverflow: string; x: number; y: number } | null = null;
  const phone = typeof matchMedia === 'function' ? matchMedia(PHONE) : null;
  const hold = () => {
    if (locked && (scrollX !== locked.x || scrollY !== locked.y)) scrollTo(locked.x, locked.y);
  };
  function lockScroll(): void {
    const want = open && !!phone?.matches;
    const html = document.documentElement;
    if (want && !locked) {
      locked = {
        overflow: html.style.overflow,
        bodyOverflow: document.body.style.overflow,
        x: scrollX,
        y: scrollY,
      };
      html.style.overflow = 'hidden';
      document.body.style.overflow = 'hidden';
      window.addEventListener('scroll', hold, { passive: true });
    } else if (!want && locked) {
      window.removeEventListener('scroll', hold);
      html.style.overflow = locked.overflow;
      document.body.style.overflow = locked.bodyOverflow;
      scrollTo(locked.x, locked.y);
      locked = null;
    }
  }
  // The on-screen keyboard shrinks the visual viewport: size the frame to it, so the composer
  // at its bottom stays visible.
  function fitViewport(): void {
    const vv = window.visualViewport;
    if (open && phone?.matches && vv) box.style.setProperty('--sb-vh', `${Math.round(vv.height)}px`);
    else box.style.removeProperty('--sb-vh');
  }
  window.visualViewport?.addEventListener('resize', fitViewport);
  phone?.addEventListener?.('change', () => {
    lockScroll();
    fitViewport();
  });

  function setOpen(next: boolean, fromWidget = false): void {
    if (next === open) return;
    open = next;
    const f = ensureFrame();
    box.className = open ? 'o' : '';
    lockScroll();
    fitViewport();
    if (open) unread = 0;
    label();
    toWidget({ type: open ? OPEN : CLOSE });
    if (open)
      f.focus({ preventScroll: true }); // the fixed frame is in view; the page stays put
    else if (fromWidget) button.focus();
    toHost({ type: open ? OPENED : CLOSED });
  }

  function setName(name: string): void {
    pendingName = String(name);
    if (ready) toWidget({ type: SET_NAME, name: pendingName });
  }

  button.addEventListener('click', () => setOpen(!open));

  window.addEventListener('message', (e: MessageEvent) => {
    const d: unknown = e.data;
    if (!isWireMessage(d)) return;
    if (frame && e.source === frame.contentWindow && e.origin === base) {
      if (d.type === READY) {
        ready = true;
        toWidget({ type: open ? OPEN : CLOSE });
        if (pendingName) toWidget({ type: SET_NAME, name: pendingName });
      } else if (d.type === UNREAD && typeof d.count === 'number') {
        unread = open ? 0 : Math.max(0, Math.floor(d.count));
        label();
        toHost({ type: UNREAD, count: unread });
      } else if (d.type === MINIMIZE) {
        setOpen(false, true);
      }
    } else if (e.source === window && e.origin === hostOrigin) {
      if (d.type === OPEN) setOpen(true);
      else if (d.type === CLOSE) setOpen(false);
      else if (d.type === SET_NAME && typeof d.name === 'string') setName(d.name);
    }
  });

  w.SwitchboardChat = {
    open: () => setOpen(true),
    close: () => setOpen(false),
    toggle: () => setOpen(!open),
    setName,
    get unread() {
      return unread;
    },
  };

  label();
  const mount = () => {
    document.body.appendChild(root);
    // Connect after the host page has loaded, so the widget never slows it down; the unread badge
    // needs the connection even while the window is closed.
    if (document.readyState === 'complete') setTimeout(ensureFrame, 0);
    else window.addEventListener('load', () => setTimeout(ensureFrame, 0), { once: true });
  };
  if (document.body) mount();
  else document.addEventListener('DOMContentLoaded', mount, { once: true });
}

try {
  start();
} catch (err) {
  try {
    console.warn('[switchboard] chat widget failed to start', err);
  } catch {
    // nothing left to do
  }
}
