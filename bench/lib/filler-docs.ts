// Synthetic but realistic knowledge-base documents to grow the help-centre fixture
// (test/fixtures/help-centre.json, a clothing and shoe shop) to a catalogue-sized knowledge base:
// product pages and product FAQs of the same shop, in its words (delivery, returns, sizes, care),
// so they compete with the fixture's answers the way a real catalogue would. Deterministic: the
// same count always gives the same documents.
import type { FixtureDocument } from '../../test/helpers/retrieval.js';

const COLOURS = [
  'black',
  'navy',
  'olive',
  'tan',
  'burgundy',
  'stone',
  'charcoal',
  'cream',
  'rust',
  'forest green',
];
const MATERIALS = [
  'organic cotton',
  'merino wool',
  'full-grain leather',
  'suede',
  'linen',
  'recycled polyester',
  'waxed canvas',
  'denim',
  'corduroy',
  'cashmere blend',
];
const ITEMS: { name: string; kind: 'shoes' | 'clothing' | 'kids' | 'accessories' }[] = [
  { name: 'Chelsea boot', kind: 'shoes' },
  { name: 'running trainer', kind: 'shoes' },
  { name: 'derby shoe', kind: 'shoes' },
  { name: 'loafer', kind: 'shoes' },
  { name: 'hiking boot', kind: 'shoes' },
  { name: 'crew-neck jumper', kind: 'clothing' },
  { name: 'overshirt', kind: 'clothing' },
  { name: 'chino', kind: 'clothing' },
  { name: 'parka', kind: 'clothing' },
  { name: 'oxford shirt', kind: 'clothing' },
  { name: 'midi dress', kind: 'clothing' },
  { name: 'school shoe', kind: 'kids' },
  { name: 'kids raincoat', kind: 'kids' },
  { name: 'belt', kind: 'accessories' },
  { name: 'tote bag', kind: 'accessories' },
  { name: 'beanie', kind: 'accessories' },
];
const RANGES = [
  'Harbour',
  'Fell',
  'Camden',
  'Orkney',
  'Bramble',
  'Tor',
  'Kestrel',
  'Marlow',
  'Wren',
  'Ashdown',
];
const QUESTIONS = [
  (p: string) => `Does the ${p} run small or large?`,
  (p: string) => `Is the ${p} waterproof?`,
  (p: string) => `How should I clean my ${p}?`,
  (p: string) => `When will the ${p} be back in stock?`,
  (p: string) => `Can I return the ${p} if I have worn it outside?`,
];

/** `count` documents: product pages and product FAQs, alternating, keys `filler-<n>`. */
export function fillerDocuments(count: number): FixtureDocument[] {
  const out: FixtureDocument[] = [];
  for (let i = 0; i < count; i++) {
    const item = ITEMS[i % ITEMS.length]!;
    const colour = COLOURS[Math.floor(i / ITEMS.length) % COLOURS.length]!;
    const material = MATERIALS[(i * 7) % MATERIALS.length]!;
    const range = RANGES[Math.floor(i / (ITEMS.length * COLOURS.length)) % RANGES.length]!;
    const product = `${range} ${material} ${item.name}`;
    const price = 25 + ((i * 37) % 180);
    const sku = `AC-${String(100000 + i * 13).slice(-6)}`;
    const url = `https://shop.bench.example/products/${sku.toLowerCase()}`;
    if (i % 2 === 0) {
      out.push({
        key: `filler-${i}`,
        title: `${product} in ${colour}`,
        format: 'markdown',
        url,
        tags: ['products', item.kind],
        language: 'en',
        body: [
          `# ${product} in ${colour}`,
          `Our ${range} ${item.name} is made from ${material} and finished by hand. Product code ${sku}, £${price}.`,
          '## Fit and sizing',
          item.kind === 'shoes'
            ? `The ${item.name} fits true to size; if you are between sizes, take the larger one. Wide fittings are available in sizes 7 to 11.`
            : `The ${item.name} has a regular fit. The model is 185 cm tall and wears a medium.`,
          '## Materials and care',
          `${material[0]!.toUpperCase()}${material.slice(1)} softens with wear. Brush off dirt after each use and let it dry away from radiators; do not tumble dry.`,
          '## Delivery and returns',
          `Usually dispatched within one working day. Free returns within 30 days on unworn items with their tags.`,
        ].join('\n\n'),
      });
    } else {
      const ask = QUESTIONS[Math.floor(i / 2) % QUESTIONS.length]!(`${colour} ${product}`);
      out.push({
        key: `filler-${i}`,
        title: ask,
        format: 'text',
        url,
        tags: ['faq', item.kind],
        language: 'en',
        body: [
          `${ask} This is one of the questions we are asked most about this product (${sku}).`,
          `Customers who bought the ${item.name} say it is comfortable from the first wear. Our stylists answer questions about the ${range} range by email within one working day.`,
          `Stock of the ${colour} version is refreshed every few weeks; sign up for an alert on the product page to hear when your size is back.`,
        ].join('\n\n'),
      });
    }
  }
  return out;
}
