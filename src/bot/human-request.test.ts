// asksForHuman: which visitor messages ask for a person, in English and the tenant's languages,
// and which only mention one of the words (compounds, "in person", "agenda").
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { asksForHuman } from './human-request.js';

describe('asksForHuman', () => {
  const asks: [string, string][] = [
    ['the widget button', 'Talk to a person'],
    ['"agent" alone', 'agent'],
    ['"agent" in a sentence', 'Can I speak to an agent?'],
    ['"person"', 'I need a real person'],
    ['"human", any case', 'HUMAN please!!'],
    ['"representative"', 'Get me a representative'],
    ['"customer service"', 'customer service'],
    ['French: humain', 'un humain svp'],
    ['French: conseiller, accents', 'Je veux parler à un conseiller'],
    ['French: conseillère', 'Une conseillère, s’il vous plaît'],
    ["French: quelqu'un", "Est-ce que je peux parler à quelqu'un ?"],
    ['French: une vraie personne', 'Je voudrais une vraie personne'],
    ['German: Mitarbeiter', 'Mitarbeiter bitte'],
    ['German: Menschen', 'Ich möchte mit einem Menschen sprechen'],
    ['German: Kundendienst', 'Bitte den Kundendienst'],
    ['Spanish: humano', 'quiero hablar con un humano'],
  ];
  for (const [name, text] of asks) {
    test(`asks: ${name}`, () => assert.equal(asksForHuman(text), true, text));
  }

  const doesNot: [string, string][] = [
    ['a hyphenated compound: human-readable', 'Can I get a human-readable receipt?'],
    ['human-readable with a non-breaking hyphen', 'A human‐readable invoice'],
    ['agent-based', 'Is your pricing agent-based?'],
    ['person-to-person', 'Do you allow person-to-person resale?'],
    ['"in person"', 'Can I pick up my order in person?'],
    ['"per person"', 'Is the discount limited per person?'],
    ['"another person"', 'Can another person collect my parcel?'],
    ['"user agent"', 'The site says my user agent is not supported'],
    ['"human resources"', 'I want to apply for a job, who is in human resources?'],
    ['agenda', 'What is on the agenda for the sale?'],
    ['personal', 'How do I change my personal details?'],
    ['humanity', 'Humanity is great'],
    ['French: en personne', 'Je peux retirer ma commande en personne ?'],
    ['French: nothing', 'Où est ma commande ?'],
    ['German: nothing', 'Wo ist meine Bestellung?'],
    ['an ordinary question', 'How long does delivery to Germany take?'],
  ];
  for (const [name, text] of doesNot) {
    test(`does not ask: ${name}`, () => assert.equal(asksForHuman(text), false, text));
  }

  test("with languages: English and the tenant's languages count, others don't", () => {
    assert.equal(asksForHuman('un humain svp', ['fr-FR']), true);
    assert.equal(asksForHuman('Mitarbeiter bitte', ['fr-FR']), false, 'German is not the tenant’s');
    assert.equal(asksForHuman('Mitarbeiter bitte', ['fr', 'de-AT']), true);
    assert.equal(asksForHuman('Talk to a person', ['fr']), true, 'English always counts');
    assert.equal(asksForHuman('agent', []), true);
    assert.equal(asksForHuman('quiero un humano', [null, undefined]), false);
    assert.equal(asksForHuman('Can I get a human-readable receipt?', ['en']), false);
  });
});
