/**
 * The answers' types, inferred from the schemas of `./shapes.ts`: handlers check the values
 * they answer against them (`satisfies`), and the client's types are these same types.
 */
import type { z } from "zod";
import type * as shapes from "./shapes";

export type Health = z.infer<typeof shapes.Health>;
export type PeerRef = z.infer<typeof shapes.PeerRef>;
export type PeerList = z.infer<typeof shapes.PeerList>;
export type Stats = z.infer<typeof shapes.Stats>;
/** What a PUT of a file answers (and the client's `upload`, which may go multipart). */
export type StoredFile = z.infer<typeof shapes.StoredFile>;
/** A stored file as listings, pull and multipart `complete` show it. */
export type FileMeta = z.infer<typeof shapes.FileMeta>;
export type FilePage = z.infer<typeof shapes.FilePage>;
export type SearchPage = z.infer<typeof shapes.SearchPage>;
export type FolderCreated = z.infer<typeof shapes.FolderCreated>;
export type FolderDeleted = z.infer<typeof shapes.FolderDeleted>;
export type CopyTotals = z.infer<typeof shapes.CopyTotals>;
export type ShareLink = z.infer<typeof shapes.ShareLink>;
/** A version-bound, unregistered link of `POST /api/links`. */
export type TransferLink = z.infer<typeof shapes.TransferLink>;
export type TransferLinks = z.infer<typeof shapes.TransferLinks>;
/** One file of a batch pull: stored (`file`) or failed (`error`). */
export type PullResult = z.infer<typeof shapes.PullResult>;
export type PullBatch = z.infer<typeof shapes.PullBatch>;
export type PutResult = z.infer<typeof shapes.PutResult>;
export type PutBatch = z.infer<typeof shapes.PutBatch>;
/** A share link as listed (never its URL or password). */
export type ShareInfo = z.infer<typeof shapes.ShareInfo>;
export type ShareList = z.infer<typeof shapes.ShareList>;
/** A scoped token as listed (never its secret). */
export type TokenInfo = z.infer<typeof shapes.TokenInfo>;
export type TokenList = z.infer<typeof shapes.TokenList>;
/** A freshly minted scoped token, with its secret: shown once. */
export type TokenCreated = z.infer<typeof shapes.TokenCreated>;
export type UploadCreated = z.infer<typeof shapes.UploadCreated>;
export type UploadPart = z.infer<typeof shapes.UploadPart>;
/** A memory key and when it expires (ISO), or null for never. */
export type MemoryKey = z.infer<typeof shapes.MemoryKey>;
export type MemoryPage = z.infer<typeof shapes.MemoryPage>;
export type TaskResult = z.infer<typeof shapes.TaskResult>;
export type TaskBatch = z.infer<typeof shapes.TaskBatch>;
/** One line of the history: `result` is the result's JSON text, cut to 200 characters. */
export type TaskSummary = z.infer<typeof shapes.TaskSummary>;
/** A whole task record: `GET /api/tasks/{id}`. */
export type TaskRecord = z.infer<typeof shapes.TaskRecord>;
export type TaskPage = z.infer<typeof shapes.TaskPage>;
export type CacheInfo = z.infer<typeof shapes.CacheInfo>;
/** A replication rule with its delivery status (never its token). */
export type ReplicationRule = z.infer<typeof shapes.ReplicationRule>;
export type ReplicationRules = z.infer<typeof shapes.ReplicationRules>;
/** A page of a folder under a rule, each file with whether its copy there is current. */
export type ReplicaStates = z.infer<typeof shapes.ReplicaStates>;
