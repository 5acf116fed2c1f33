/**
 * A pool of fixed-size SharedArrayBuffer slabs. Stream rings live in
 * slabs; a slab returns to the pool when its stream ends, so memory stays
 * flat over many publish/unpublish cycles instead of churning through
 * large SharedArrayBuffer allocations (which are never compacted).
 */
import { SluiceError } from './errors.js';

export interface SlabPoolStats {
  slabBytes: number;
  /** Slabs ever created and still owned by the pool (free + in use). */
  total: number;
  free: number;
  inUse: number;
}

export class SlabPool {
  private readonly freeList: SharedArrayBuffer[] = [];
  private readonly used = new Set<SharedArrayBuffer>();

  constructor(
    readonly slabBytes: number,
    /** Hard cap on slabs in use; acquiring past it throws ERR_LIMIT. */
    readonly maxSlabs: number,
    /** Free slabs kept for reuse; more than this are dropped for GC. */
    readonly keepFree = 4,
  ) {
    if (slabBytes < 4096 || slabBytes % 8 !== 0) {
      throw new SluiceError('ERR_CONFIG', `slab size ${slabBytes} must be >= 4096 and a multiple of 8`);
    }
  }

  acquire(): SharedArrayBuffer {
    const slab = this.tryAcquire();
    if (!slab) throw new SluiceError('ERR_LIMIT', `slab pool exhausted: ${this.used.size} of ${this.maxSlabs} slabs in use`);
    return slab;
  }

  /** A slab, or undefined when all are in use (for callers that answer with a refusal, not an exception). */
  tryAcquire(): SharedArrayBuffer | undefined {
    if (this.used.size >= this.maxSlabs) return undefined;
    const slab = this.freeList.pop() ?? new SharedArrayBuffer(this.slabBytes);
    this.used.add(slab);
    return slab;
  }

  release(slab: SharedArrayBuffer): void {
    // Idempotent: a double release must not put one slab in the free list twice.
    if (!this.used.delete(slab)) return;
    if (this.freeList.length < this.keepFree) this.freeList.push(slab);
  }

  stats(): SlabPoolStats {
    return {
      slabBytes: this.slabBytes,
      total: this.freeList.length + this.used.size,
      free: this.freeList.length,
      inUse: this.used.size,
    };
  }
}
