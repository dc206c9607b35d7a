// An error the store raises for a request it refuses; `status` is the HTTP status the API answers with.
export class StoreError extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
  }
}
