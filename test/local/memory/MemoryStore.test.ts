/**
 * The in-memory engine against the shared Store contract.
 */
import * as MemoryStore from "../../../src/local/internal/memory/MemoryStore.js"
import { storeContract } from "../storeContract.js"

storeContract("memory", MemoryStore.layer)
