// Module resolve hook for repository checkouts (see latchkit.js): every import resolves with the
// "@latchkit/source" export condition, so the workspace packages load from their TypeScript
// sources. Harmless where no package declares the condition.
export async function resolve(specifier, context, nextResolve) {
  return nextResolve(specifier, { ...context, conditions: [...context.conditions, '@latchkit/source'] });
}
