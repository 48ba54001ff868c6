import type { PrefectClient } from "./client.js";
import { PrefectNotFound, unwrap } from "./prefectAnswers.js";

/** Reads Prefect Secret blocks (set by an operator in the Prefect UI: Blocks → Secret) over REST. */
export class PrefectSecrets {
  constructor(private readonly client: PrefectClient) {}

  /** The secret's value, or undefined when no block has that name. */
  async read(blockName: string): Promise<string | undefined> {
    try {
      const doc = await unwrap(`read secret block ${blockName}`, () =>
        this.client.GET("/block_types/slug/{slug}/block_documents/name/{block_document_name}", {
          params: { path: { slug: "secret", block_document_name: blockName }, query: { include_secrets: true } },
        }),
      );
      const value = (doc.data as { value?: unknown } | undefined)?.value;
      return typeof value === "string" && value.length ? value : undefined;
    } catch (err) {
      if (err instanceof PrefectNotFound) return undefined;
      throw err;
    }
  }
}
