/**
 * R2's etags, in one place for the peer and the client: the MD5 of a single put (32 hex
 * digits), or `<MD5>-<parts>` for a multipart object. Bounded (≤ 38 characters), so one may be
 * kept in an object's metadata.
 */
export const ETAG = /^[0-9a-f]{32}(-[1-9][0-9]{0,4})?$/;

/** Whether `etag` is an R2 etag (`ETAG`). */
export const isEtag = (etag: string) => ETAG.test(etag);

/** Whether `etag` is the plain MD5 of a single put: equal ones are the same bytes. */
export const isMd5Etag = (etag: string) => /^[0-9a-f]{32}$/.test(etag);
