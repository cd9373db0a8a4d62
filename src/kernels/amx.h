// amx: whether this process may use Intel AMX tiles, and the one tile layout moet's AMX code uses.
//
// A CPU lists AMX in cpuid, the OS must save the tile state (XCR0), and Linux hands the 8 KiB
// tile-data state only to a process that asks (arch_prctl, kernel 5.16+); a thread that runs a
// tile instruction without all three dies of SIGILL. The machines moet runs on differ between
// sessions (AMD without AMX, Intel with it), so every AMX path asks here first and has a fallback.
#pragma once

namespace moet {

// cpuid reports AMX-TILE and AMX-BF16 and the OS saves the tile state (XCR0 bits 17 and 18).
bool cpu_has_amx_bf16();
// Linux granted this process the tile data (ARCH_REQ_XCOMP_PERM; asking again is harmless).
bool os_grants_amx_tile_data();
// Both, asked once per process.
bool amx_bf16_usable();

// Configures the calling thread's eight tiles as 16 rows of 64 bytes (palette 1: a 16 x 16 fp32
// accumulator, or 16 x 32 bf16, or 16 row pairs x 16 columns of bf16) and releases them. Tile
// state is per thread: configure in the thread that runs the tile instructions. Only when
// amx_bf16_usable().
void configure_amx_tiles();
void release_amx_tiles();

}  // namespace moet
