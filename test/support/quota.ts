import { env } from "cloudflare:test";

/**
 * The real counter binding, with each call made to it passed to `onCall` first: it may record
 * the call, or reject it (a transient failure of the object, an overload or a reset).
 */
export function watchedQuota(onCall: (method: string, args: unknown[]) => Error | undefined): DurableObjectNamespace {
  return new Proxy(env.QUOTA, {
    get(target, prop) {
      if (prop !== "get") {
        const value = Reflect.get(target, prop, target);
        return typeof value === "function" ? value.bind(target) : value;
      }
      return (id: DurableObjectId) => {
        const stub = target.get(id);
        return new Proxy(stub, {
          get(s, method) {
            const value = Reflect.get(s, method, s);
            if (typeof method !== "string" || typeof value !== "function") return value;
            return (...args: unknown[]) => {
              const failure = onCall(method, args);
              return failure ? Promise.reject(failure) : Reflect.apply(value, s, args);
            };
          },
        });
      };
    },
  });
}
