// Canned reply variables, shared by the server and the inbox bundle (no dependencies).

/** The variables a canned reply body may hold, as `{{name}}`. */
export const cannedVariables = ['visitor.name', 'visitor.email', 'agent.name', 'conversation.id'] as const;
export type CannedVariable = (typeof cannedVariables)[number];

/**
 * The body with its variables filled in. An unknown variable, or one without a value (a visitor
 * who gave no email), stays as written, so the agent sees what is missing before sending.
 */
export function fillVariables(body: string, values: Partial<Record<string, string | null>>): string {
  return body.replace(/\{\{\s*([a-z]+(?:\.[a-z_]+)*)\s*\}\}/gi, (whole, name: string) => {
    const value = Object.hasOwn(values, name) ? values[name] : null;
    return value ? value : whole;
  });
}
