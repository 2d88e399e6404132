/**
 * Words with which visitors ask for a person, in the languages the product speaks. Matched as
 * whole words, case- and accent-insensitively.
 */
const ASKS = [
  // English
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
  // French
  'humain',
  'une personne',
  'conseiller',
  'conseillere',
  'operateur',
  'quelqu un',
  'service client',
  // German, Spanish, Italian, Portuguese, Dutch
  'mensch',
  'mitarbeiter',
  'humano',
  'persona',
  'agente',
  'operatore',
  'pessoa',
  'atendente',
  'medewerker',
];

const fold = (s: string) =>
  s
    .normalize('NFD')
    .replace(/\p{Diacritic}/gu, '')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();

const PATTERN = new RegExp(`(^| )(${ASKS.map(fold).join('|')})( |$)`);

/** Whether a visitor's message asks for a human. */
export const asksForHuman = (text: string) => PATTERN.test(fold(text));
