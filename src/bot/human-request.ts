/**
 * Words with which visitors ask for a person, per language (two-letter code). Matched as whole
 * words, case- and accent-insensitively; a hyphenated compound is one word ("human-readable" is
 * not "human").
 */
const ASKS: Record<string, string[]> = {
  en: [
    'agent',
    'human',
    'person',
    'someone real',
    'real person',
    'representative',
    'operator',
    'talk to someone',
    'speak to someone',
    'customer service',
  ],
  fr: [
    'humain',
    'une personne',
    'vraie personne',
    'conseiller',
    'conseillere',
    'operateur',
    'operatrice',
    'quelqu un',
    'service client',
  ],
  de: [
    'mensch',
    'menschen',
    'mitarbeiter',
    'mitarbeiterin',
    'berater',
    'beraterin',
    'kundendienst',
    'kundenservice',
  ],
  es: ['humano', 'persona', 'agente'],
  it: ['operatore', 'persona', 'agente'],
  pt: ['pessoa', 'atendente', 'humano'],
  nl: ['medewerker', 'mens'],
};

/**
 * Phrases in which those words don't ask for anyone: they are taken out before matching.
 * ("Can I pick it up in person?", "the human-readable receipt", "my browser's user agent".)
 */
const NOT_ASKING = [
  'in person',
  'per person',
  'another person',
  'other person',
  'each person',
  'human resources',
  'human error',
  'human rights',
  'human readable',
  'user agent',
  'travel agent',
  'estate agent',
  'shipping agent',
  'customs agent',
  'en personne',
  'par personne',
];

const fold = (s: string) =>
  s
    .normalize('NFD')
    .replace(/\p{Diacritic}/gu, '')
    .toLowerCase()
    // A hyphen between letters joins a compound into one word; any other mark separates words.
    .replace(/(\p{L})[-‐](?=\p{L})/gu, '$1\u00b7')
    .replace(/[^\p{L}\p{N}\u00b7]+/gu, ' ')
    .trim();

const pattern = (phrases: string[], flags = '') =>
  new RegExp(`(^| )(${phrases.map(fold).join('|')})(?= |$)`, flags);

const NOT = pattern(NOT_ASKING, 'g');
const EVERY_LANGUAGE = pattern(Object.values(ASKS).flat());
const byLanguages = new Map<string, RegExp>();

/** The pattern for English and the given languages (cached per set). */
function patternFor(languages: readonly (string | null | undefined)[]) {
  const codes = [
    ...new Set(['en', ...languages.flatMap((l) => (l ? [l.slice(0, 2).toLowerCase()] : []))]),
  ].sort();
  const key = codes.join(',');
  let p = byLanguages.get(key);
  if (!p) {
    p = pattern(codes.flatMap((c) => ASKS[c] ?? []));
    byLanguages.set(key, p);
  }
  return p;
}

/**
 * Whether a visitor's message asks for a human. `languages` (locales such as the tenant's and the
 * visitor's: `fr`, `de-AT`) picks the words: English and those languages' words. Without it, the
 * words of every language the product speaks count.
 */
export function asksForHuman(text: string, languages?: readonly (string | null | undefined)[]) {
  const p = languages ? patternFor(languages) : EVERY_LANGUAGE;
  return p.test(fold(text).replace(NOT, ' '));
}
