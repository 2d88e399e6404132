// The list row's preview of a message, shared by the server and the inbox bundle (no dependencies).

/** How long a list row's last message may be: longer ones are cut, with an ellipsis. */
export const PREVIEW_MAX = 140;

/** A message's content as the inbox list shows it (`last_message.content`). */
export const previewText = (content: string) =>
  content.length > PREVIEW_MAX ? `${content.slice(0, PREVIEW_MAX - 1)}…` : content;
