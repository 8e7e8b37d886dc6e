import { badRequest } from "../http/errors";

/** One condition of an `If:` list: a state token or an entity tag, possibly negated. */
export type IfCondition = { not: boolean; token: string } | { not: boolean; etag: string };

/** One parenthesised list, for the request's resource (`resource` null) or a tagged one. */
export interface IfList {
  resource: string | null;
  conditions: IfCondition[];
}

/** Most lists, and conditions per list, one header may carry. */
const MAX_LISTS = 64;

/**
 * Parses an `If:` header (RFC 4918 §10.4): untagged `(…)` lists, or `<resource> (…)` tagged
 * ones; conditions `<state-token>` and `[etag]`, each optionally `Not`. Malformed is 400.
 */
export function parseIf(header: string): IfList[] {
  const lists: IfList[] = [];
  let resource: string | null = null;
  let i = 0;
  const fail = () => badRequest("The If header is malformed (RFC 4918 §10.4).");
  const skip = () => {
    while (i < header.length && /\s/.test(header[i] ?? "")) i++;
  };
  const until = (close: string) => {
    const end = header.indexOf(close, i + 1);
    if (end < 0) throw fail();
    const value = header.slice(i + 1, end);
    i = end + 1;
    return value;
  };
  for (skip(); i < header.length; skip()) {
    const c = header[i];
    if (c === "<") {
      resource = until(">");
      continue;
    }
    if (c !== "(") throw fail();
    i++;
    const conditions: IfCondition[] = [];
    for (skip(); header[i] !== ")"; skip()) {
      if (i >= header.length || conditions.length >= MAX_LISTS) throw fail();
      let not = false;
      if (/^not\b/i.test(header.slice(i, i + 4))) {
        not = true;
        i += 3;
        skip();
      }
      if (header[i] === "<") conditions.push({ not, token: until(">") });
      else if (header[i] === "[") conditions.push({ not, etag: until("]") });
      else throw fail();
    }
    i++;
    if (conditions.length === 0 || lists.length >= MAX_LISTS) throw fail();
    lists.push({ resource, conditions });
  }
  if (lists.length === 0) throw fail();
  return lists;
}

/** Every state token the header names, negated or not: the lock tokens the client submits. */
export const submittedTokens = (lists: IfList[]): string[] =>
  lists.flatMap((l) => l.conditions.flatMap((c) => ("token" in c && !c.not ? [c.token] : [])));

/** What a resource is now, for evaluating conditions on it. */
export interface ResourceState {
  etag: string | null;
  tokens: string[];
}

/**
 * Whether the header holds: any list whose every condition is true of its resource (a
 * state token that is one of the resource's lock tokens; an entity tag equal, strongly, to
 * its current one). `stateOf` answers for the request's resource (null) or a tagged one.
 */
export function ifHolds(lists: IfList[], stateOf: (resource: string | null) => ResourceState): boolean {
  return lists.some((list) => {
    const state = stateOf(list.resource);
    return list.conditions.every((c) => {
      const met = "token" in c ? state.tokens.includes(c.token) : state.etag !== null && !c.etag.startsWith("W/") && c.etag === state.etag;
      return met !== c.not;
    });
  });
}
