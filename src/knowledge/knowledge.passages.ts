// Splitting a knowledge document into passages: pieces small enough for the bot to answer from
// and for full-text ranking to tell apart, each keeping the heading it sits under. Pure functions.

export type DocumentFormat = 'text' | 'markdown';

export type Passage = { heading: string | null; content: string };

/** A passage grows to about this many words before a new one starts. */
export const MAX_PASSAGE_WORDS = 200;
/** A passage shorter than this takes the next paragraph in, even past the maximum when it must. */
export const MIN_PASSAGE_WORDS = 80;

const HEADING = /^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const FENCE = /^ {0,3}(```|~~~)/;
// A sentence ends at . ! ? … (optionally closed by a quote or bracket) followed by white space.
const SENTENCE_END = /(?<=[.!?…]["')\]»]?)\s+(?=\S)/u;

export const wordCount = (s: string): number => s.split(/\s+/).filter(Boolean).length;

type Section = { heading: string | null; paragraphs: string[] };

/** The document's passages, in order: never empty for a non-empty body. */
export function splitDocument(body: string, format: DocumentFormat): Passage[] {
  const sections = format === 'markdown' ? markdownSections(body) : [textSection(body)];
  const passages = sections.flatMap((s) =>
    packParagraphs(s.paragraphs).map((content) => ({ heading: s.heading, content })),
  );
  if (passages.length > 0) return passages;
  // Headings and nothing else: the headings are the content.
  const content = body.trim() || body;
  return [{ heading: null, content }];
}

function textSection(body: string): Section {
  return { heading: null, paragraphs: paragraphsOf(body.split(/\r?\n/)) };
}

/**
 * Markdown by headings: each section is the text under a heading, named by the heading path
 * (`Returns › Exchanges`) so a passage's heading says where it is. Fenced code keeps its `#`s.
 */
function markdownSections(body: string): Section[] {
  const sections: Section[] = [];
  const path: { level: number; text: string }[] = [];
  let lines: string[] = [];
  let heading: string | null = null;
  let inFence = false;
  const flush = () => {
    const paragraphs = paragraphsOf(lines);
    if (paragraphs.length > 0) sections.push({ heading, paragraphs });
    lines = [];
  };
  for (const line of body.split(/\r?\n/)) {
    if (FENCE.test(line)) inFence = !inFence;
    const m = inFence ? null : HEADING.exec(line);
    if (!m) {
      lines.push(line);
      continue;
    }
    flush();
    const level = m[1]!.length;
    while (path.length > 0 && path.at(-1)!.level >= level) path.pop();
    const text = m[2]!.trim();
    if (text) path.push({ level, text });
    heading = path.length > 0 ? path.map((h) => h.text).join(' › ') : null;
  }
  flush();
  return sections;
}

/** Blank-line separated paragraphs, trimmed, the empty ones dropped. */
function paragraphsOf(lines: string[]): string[] {
  const out: string[] = [];
  let current: string[] = [];
  const flush = () => {
    const p = current.join('\n').trim();
    if (p) out.push(p);
    current = [];
  };
  for (const line of lines) {
    if (line.trim() === '') flush();
    else current.push(line);
  }
  flush();
  return out;
}

/**
 * Paragraphs packed into passages of at most `MAX_PASSAGE_WORDS` words (a short passage takes the
 * next paragraph in); a paragraph too long on its own is cut between sentences, and only a
 * sentence longer than the maximum is cut between words.
 */
export function packParagraphs(paragraphs: string[]): string[] {
  const pieces = paragraphs.flatMap((p) => (wordCount(p) <= MAX_PASSAGE_WORDS ? [p] : splitLongParagraph(p)));
  const out: string[] = [];
  let current: string[] = [];
  let words = 0;
  for (const piece of pieces) {
    const n = wordCount(piece);
    if (current.length > 0 && words + n > MAX_PASSAGE_WORDS && words >= MIN_PASSAGE_WORDS) {
      out.push(current.join('\n\n'));
      current = [];
      words = 0;
    }
    current.push(piece);
    words += n;
  }
  if (current.length > 0) out.push(current.join('\n\n'));
  return out;
}

/** One long paragraph as pieces of whole sentences, each at most `MAX_PASSAGE_WORDS` words. */
function splitLongParagraph(p: string): string[] {
  const sentences = p
    .split(SENTENCE_END)
    .flatMap((s) => (wordCount(s) > MAX_PASSAGE_WORDS ? byWords(s) : [s]));
  const out: string[] = [];
  let current: string[] = [];
  let words = 0;
  for (const s of sentences) {
    const n = wordCount(s);
    if (current.length > 0 && words + n > MAX_PASSAGE_WORDS) {
      out.push(current.join(' '));
      current = [];
      words = 0;
    }
    current.push(s);
    words += n;
  }
  if (current.length > 0) out.push(current.join(' '));
  return out;
}

function byWords(s: string): string[] {
  const words = s.split(/\s+/).filter(Boolean);
  const out: string[] = [];
  for (let i = 0; i < words.length; i += MAX_PASSAGE_WORDS) {
    out.push(words.slice(i, i + MAX_PASSAGE_WORDS).join(' '));
  }
  return out;
}
