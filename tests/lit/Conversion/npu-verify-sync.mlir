// RUN: nuri-opt %s --pass-pipeline='builtin.module(npu.program(npu-verify-sync))' --split-input-file --verify-diagnostics

// Balanced: one token each way between DMA and the array, one barrier of
// two participants.
npu.program @balanced attributes {target = "tiny", inputs = [], outputs = []} {
  npu.stream attributes {core = 0 : i64, engine = "dma"} {
    npu.sem_signal {sem = 0 : i64, core = 0 : i64, count = 1 : i64}
    npu.barrier {bar = 0 : i64, count = 2 : i64}
  }
  npu.stream attributes {core = 0 : i64, engine = "mat"} {
    npu.sem_wait {sem = 0 : i64, count = 1 : i64}
    npu.barrier {bar = 0 : i64, count = 2 : i64}
  }
}

// -----

// A token nobody waits for would be consumed by the next kernel.
// expected-error @+1 {{semaphore 3 of core 0 is signaled 2 times but waited for 1 times}}
npu.program @stale_token attributes {target = "tiny", inputs = [], outputs = []} {
  npu.stream attributes {core = 0 : i64, engine = "dma"} {
    npu.sem_signal {sem = 3 : i64, core = 0 : i64, count = 1 : i64}
    npu.sem_signal {sem = 3 : i64, core = 0 : i64, count = 1 : i64}
  }
  npu.stream attributes {core = 0 : i64, engine = "vec"} {
    npu.sem_wait {sem = 3 : i64, count = 1 : i64}
  }
}

// -----

// A kernel that forgets a wait: the vector engine reads the tile the DMA
// signals as loaded without waiting for it (a race the simulator may not
// hit), and the token is left for the next kernel. `nuri compile` runs this
// check on every program before it is serialized.
// expected-error @+1 {{semaphore 0 of core 1 is signaled 1 times but waited for 0 times}}
npu.program @missing_wait attributes {target = "tiny", inputs = [], outputs = []} {
  npu.stream attributes {core = 1 : i64, engine = "dma"} {
    npu.sem_signal {sem = 0 : i64, core = 1 : i64, count = 1 : i64}
    npu.barrier {bar = 0 : i64, count = 2 : i64}
  }
  npu.stream attributes {core = 1 : i64, engine = "vec"} {
    npu.barrier {bar = 0 : i64, count = 2 : i64}
  }
}

// -----

// expected-error @+1 {{barrier 1 has 3 arrivals, not a multiple of its 2 participants}}
npu.program @short_barrier attributes {target = "tiny", inputs = [], outputs = []} {
  npu.stream attributes {core = 0 : i64, engine = "dma"} {
    npu.barrier {bar = 1 : i64, count = 2 : i64}
    npu.barrier {bar = 1 : i64, count = 2 : i64}
  }
  npu.stream attributes {core = 0 : i64, engine = "mat"} {
    npu.barrier {bar = 1 : i64, count = 2 : i64}
  }
}

// -----

// expected-error @+1 {{barrier 0 has 2 arrivals, not a multiple of its 3 participants}}
npu.program @mixed_counts attributes {target = "tiny", inputs = [], outputs = []} {
  npu.stream attributes {core = 0 : i64, engine = "dma"} {
    npu.barrier {bar = 0 : i64, count = 2 : i64}
  }
  npu.stream attributes {core = 0 : i64, engine = "mat"} {
    // expected-error @+1 {{names 3 participants at barrier 0, an earlier arrival named 2}}
    npu.barrier {bar = 0 : i64, count = 3 : i64}
  }
}

// -----

// A fetch stream takes part like any queue: its signal balances the array's
// wait, and its barrier is the third of three arrivals.
npu.program @fetch_balanced attributes {target = "tiny", inputs = [], outputs = []} {
  npu.stream attributes {core = 0 : i64, engine = "dma"} {
    npu.barrier {bar = 0 : i64, count = 3 : i64}
  }
  npu.stream attributes {core = 0 : i64, engine = "fetch"} {
    npu.sem_signal {sem = 2 : i64, core = 0 : i64, count = 1 : i64}
    npu.barrier {bar = 0 : i64, count = 3 : i64}
  }
  npu.stream attributes {core = 0 : i64, engine = "mat"} {
    npu.sem_wait {sem = 2 : i64, count = 1 : i64}
    npu.barrier {bar = 0 : i64, count = 3 : i64}
  }
}

// -----

// The barrier counts the fetch queue, but the fetch stream never arrives.
// expected-error @+1 {{barrier 0 has 2 arrivals, not a multiple of its 3 participants}}
npu.program @fetch_skips_barrier attributes {target = "tiny", inputs = [], outputs = []} {
  npu.stream attributes {core = 0 : i64, engine = "dma"} {
    npu.barrier {bar = 0 : i64, count = 3 : i64}
  }
  npu.stream attributes {core = 0 : i64, engine = "fetch"} {
    npu.dma_copy {src_space = "dram", dst_space = "sram", core = 0 : i64, src = 0 : i64, dst = 0 : i64, bytes = 256 : i64, rows = 1 : i64, planes = 1 : i64, src_stride = 0 : i64, dst_stride = 0 : i64, src_pstride = 0 : i64, dst_pstride = 0 : i64}
  }
  npu.stream attributes {core = 0 : i64, engine = "mat"} {
    npu.barrier {bar = 0 : i64, count = 3 : i64}
  }
}

// -----

// A fetch queue's signal nobody waits for.
// expected-error @+1 {{semaphore 4 of core 1 is signaled 1 times but waited for 0 times}}
npu.program @fetch_stale_token attributes {target = "tiny", inputs = [], outputs = []} {
  npu.stream attributes {core = 0 : i64, engine = "fetch"} {
    npu.sem_signal {sem = 4 : i64, core = 1 : i64, count = 1 : i64}
  }
}
