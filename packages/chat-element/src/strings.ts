// The element's words, by language (the locale attribute, else the widget config's).
const en = {
  open: 'Open chat',
  close: 'Close chat',
  chat: 'Chat',
  messages: 'Messages',
  message: 'Message',
  placeholder: 'Write a message…',
  send: 'Send',
  typing: 'Typing…',
  connecting: 'Connecting…',
  open_: 'Online',
  reconnecting: 'Reconnecting…',
  closed: 'Offline',
  agent: 'Agent',
  bot: 'Assistant',
  system: 'Notice',
  visitor: 'You',
  offline: 'No one is available right now. Leave a message and we will answer as soon as we can.',
};
export type Strings = typeof en;

const fr: Strings = {
  open: 'Ouvrir le chat',
  close: 'Fermer le chat',
  chat: 'Chat',
  messages: 'Messages',
  message: 'Message',
  placeholder: 'Écrivez un message…',
  send: 'Envoyer',
  typing: 'En train d’écrire…',
  connecting: 'Connexion…',
  open_: 'En ligne',
  reconnecting: 'Reconnexion…',
  closed: 'Hors ligne',
  agent: 'Conseiller',
  bot: 'Assistant',
  system: 'Info',
  visitor: 'Vous',
  offline:
    'Personne n’est disponible pour le moment. Laissez un message, nous vous répondrons dès que possible.',
};

export function stringsFor(locale: string | null | undefined): Strings {
  return locale?.toLowerCase().startsWith('fr') ? fr : en;
}
