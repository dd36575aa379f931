// strata platform: the stack walk from the object files (file_unwind.hpp).
//
// A frame is unwound as the DWARF call-frame information says (the .eh_frame
// format of the LSB, which glibc, GCC and LLVM emit): find the object holding
// the pc (_dl_find_object), the FDE covering it (a binary search of the
// object's .eh_frame_hdr table), run the CIE's and the FDE's instructions up
// to the pc, then compute the canonical frame address (CFA) and the caller's
// registers from the rules found. Every table byte comes from the object's
// file through a small cursor (pread into a 256-byte window). Read in memory
// are only the stack, inside the span a frame's rules name, and each object's
// ELF header and build-id note in its first page, which the loader read.
#include "platform/file_unwind.hpp"

#include "platform/os.hpp"
#include "platform/text_file.hpp"
#include "strata/core/leb128.hpp"

namespace strata::os {

#if defined(__x86_64__)

namespace {

// ---- DWARF constants (the .eh_frame subset) ----------------------------------------

// Pointer encodings (DW_EH_PE_*): the low nibble the value's format, bits 4-6
// what it is relative to.
constexpr u8 PE_OMIT = 0xff;
constexpr u8 PE_ABSPTR = 0x00, PE_ULEB128 = 0x01, PE_UDATA2 = 0x02, PE_UDATA4 = 0x03, PE_UDATA8 = 0x04,
             PE_SLEB128 = 0x09, PE_SDATA2 = 0x0a, PE_SDATA4 = 0x0b, PE_SDATA8 = 0x0c;
constexpr u8 PE_PCREL = 0x10, PE_DATAREL = 0x30, PE_INDIRECT = 0x80;

// x86-64 DWARF register numbers: the ones a walk carries (callee-saved, the
// stack pointer, the return address column). The others are not needed to
// find a caller: compilers define the CFA by rsp or rbp.
constexpr u32 REG_RBX = 3, REG_RBP = 6, REG_RSP = 7, REG_R12 = 12, REG_R15 = 15, REG_RA = 16;
constexpr u32 NREGS = 17;

constexpr usize MAX_OBJECTS = 6;     // objects one walk may open (a stack crosses a few)
constexpr usize WINDOW = 256;        // cursor window (bytes read per pread)
constexpr usize MAX_STATES = 4;      // DW_CFA_remember_state depth (compilers nest one)
constexpr usize MAX_PHDRS = 64;      // program headers an object may have
constexpr u64 MAX_FRAME = u64{1} << 24;  // a frame larger than 16 MiB is taken for garbage

// ---- an object file -----------------------------------------------------------------

struct Load {
  u64 vaddr, filesz, offset;  // a PT_LOAD's virtual address, bytes in the file, file offset
};

/// One object of the stack, opened for the walk: its file and its loaded
/// segments, checked against what the loader mapped.
struct Object {
  uptr bias = 0;
  u64 hdr = 0;  // .eh_frame_hdr's virtual address (file's)
  int fd = -1;
  u32 nloads = 0;
  Load loads[6] = {};

  /// The file offset of n bytes at vaddr, and how many bytes of the segment
  /// follow it (at least 1), or false when vaddr lies in no loaded segment.
  bool offset_of(u64 vaddr, u64& off, u64& avail) const {
    for (u32 i = 0; i < nloads; ++i) {
      const Load& l = loads[i];
      if (vaddr >= l.vaddr && vaddr - l.vaddr < l.filesz) {
        off = l.offset + (vaddr - l.vaddr);
        avail = l.filesz - (vaddr - l.vaddr);
        return true;
      }
    }
    return false;
  }
};

struct Ehdr64 {
  u8 ident[16];
  u16 type, machine;
  u32 version;
  u64 entry, phoff, shoff;
  u32 flags;
  u16 ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};
struct Phdr64 {
  u32 type, flags;
  u64 offset, vaddr, paddr, filesz, memsz, align;
};
constexpr u32 PT_LOAD_ = 1, PT_NOTE_ = 4, PT_GNU_EH_FRAME_ = 0x6474e550;
constexpr u32 NT_GNU_BUILD_ID_ = 3;
constexpr usize MAX_NOTES = 4, NOTE_BYTES = 256, MAX_BUILD_ID = 64;

struct Note {
  u64 offset, filesz;  // a PT_NOTE segment in the file
};

/// Whether an ELF header (read from the file, or the mapped one) is a 64-bit
/// one whose program headers the walk reads.
template <class Header>
bool usable_elf64(const Header& eh) {
  return eh.ident[0] == 0x7f && eh.ident[1] == 'E' && eh.ident[2] == 'L' && eh.ident[3] == 'F' && eh.ident[4] == 2 &&
         eh.phentsize == sizeof(Phdr64) && eh.phnum != 0 && eh.phnum <= MAX_PHDRS;
}

/// A GNU build id: the bytes that tell one build of an object from another.
struct BuildId {
  u32 len = 0;
  u8 bytes[MAX_BUILD_ID] = {};
  bool operator==(const BuildId& o) const {
    if (len != o.len) return false;
    for (u32 i = 0; i < len; ++i)
      if (bytes[i] != o.bytes[i]) return false;
    return true;
  }
  /// Its first 8 bytes, the cache's key.
  u64 prefix() const {
    u64 v = 0;
    for (u32 i = 0; i < len && i < 8; ++i) v |= static_cast<u64>(bytes[i]) << (8 * i);
    return v;
  }
};

/// The NT_GNU_BUILD_ID note among the notes in buf[0, n), into id.
bool build_id_in(const volatile u8* buf, usize n, BuildId& id) {
  usize at = 0;
  while (at + 12 <= n) {
    u32 h[3];  // namesz, descsz, type
    for (usize k = 0; k < 3; ++k)
      h[k] = static_cast<u32>(buf[at + 4 * k]) | static_cast<u32>(buf[at + 4 * k + 1]) << 8 |
             static_cast<u32>(buf[at + 4 * k + 2]) << 16 | static_cast<u32>(buf[at + 4 * k + 3]) << 24;
    if (h[0] > NOTE_BYTES || h[1] > NOTE_BYTES) return false;
    const usize name_at = at + 12, desc_at = name_at + ((usize{h[0]} + 3) & ~usize{3});
    const usize next = desc_at + ((usize{h[1]} + 3) & ~usize{3});
    if (next > n) return false;
    if (h[2] == NT_GNU_BUILD_ID_ && h[0] == 4 && buf[name_at] == 'G' && buf[name_at + 1] == 'N' &&
        buf[name_at + 2] == 'U' && buf[name_at + 3] == 0 && h[1] > 0 && h[1] <= MAX_BUILD_ID) {
      id.len = h[1];
      for (u32 k = 0; k < h[1]; ++k) id.bytes[k] = buf[desc_at + k];
      return true;
    }
    at = next;
  }
  return false;
}

/// The build id of the object the loader mapped at lo, read from the mapping:
/// its ELF header, program headers and notes lie in its first page(s), which
/// the loader read. False when they are not laid out so (headers beyond the
/// first page, notes outside the first segment) or there is no build id.
[[gnu::cold, gnu::noinline]] bool mapped_build_id(uptr lo, BuildId& id) {
  const usize page = page_size();
  const auto* eh = reinterpret_cast<const volatile Ehdr64*>(lo);
  if (!usable_elf64(*eh)) return false;
  const u64 phoff = eh->phoff, phnum = eh->phnum;
  if (phoff > page || phnum * sizeof(Phdr64) > page - phoff) return false;
  const auto* ph = reinterpret_cast<const volatile Phdr64*>(lo + phoff);
  // The first loaded segment is the one mapped at lo (file offset 0).
  u64 first_vaddr = 0, first_filesz = 0;
  bool first = false;
  for (u64 i = 0; i < phnum && !first; ++i) {
    if (ph[i].type == PT_LOAD_ && ph[i].offset == 0) {
      first_vaddr = ph[i].vaddr;
      first_filesz = ph[i].filesz;
      first = true;
    }
  }
  if (!first) return false;
  for (u64 i = 0; i < phnum; ++i) {
    if (ph[i].type != PT_NOTE_) continue;
    const u64 vaddr = ph[i].vaddr, size = ph[i].filesz < NOTE_BYTES ? ph[i].filesz : NOTE_BYTES;
    if (vaddr < first_vaddr || vaddr + size > first_vaddr + first_filesz) continue;
    if (build_id_in(reinterpret_cast<const volatile u8*>(lo + (vaddr - first_vaddr)), static_cast<usize>(size), id))
      return true;
  }
  return false;
}

/// Whether the file's build id (in one of its PT_NOTE segments) is `want`.
[[gnu::cold, gnu::noinline]] bool file_has_build_id(const Object& o, const Note* notes, usize nnotes,
                                                    const BuildId& want) {
  for (usize n = 0; n < nnotes; ++n) {
    u8 buf[NOTE_BYTES];
    const usize size = notes[n].filesz < NOTE_BYTES ? static_cast<usize>(notes[n].filesz) : NOTE_BYTES;
    const isize got = read_at(o.fd, buf, size, notes[n].offset);
    BuildId id;
    if (got > 0 && build_id_in(buf, static_cast<usize>(got), id)) return id == want;
  }
  return false;
}

/// Opens o's file and reads its program headers; false when the file cannot
/// be read, or is not the one the loader mapped: its PT_GNU_EH_FRAME is not
/// where the loader found one, or its build id is not `mapped` (another file
/// now at that path: an upgrade while the process runs).
[[gnu::cold, gnu::noinline]] bool open_object(const LoadedObject& lo, const BuildId& mapped, Object& o) {
  o.bias = lo.bias;
  if (lo.eh_frame_hdr == 0 || lo.path == nullptr) return false;
  // /proc/self/exe is the program's own file even if its path was replaced.
  // Relative names (the vdso's, a dlopen("./x.so") the working directory
  // may have moved away from) are not opened.
  if (lo.path[0] != 0 && lo.path[0] != '/') return false;
  o.fd = open_read(lo.path[0] != 0 ? lo.path : "/proc/self/exe");
  if (o.fd < 0) return false;
  Ehdr64 eh;
  if (read_at(o.fd, &eh, sizeof eh, 0) != static_cast<isize>(sizeof eh) || !usable_elf64(eh)) return false;
  bool hdr_found = false;
  Note notes[MAX_NOTES];
  usize nnotes = 0;
  Phdr64 ph[4];  // read a few at a time: this runs inside malloc, on any thread's stack
  for (u32 first = 0; first < eh.phnum; first += 4) {
    const u32 count = eh.phnum - first < 4 ? eh.phnum - first : 4;
    const usize bytes = usize{count} * sizeof(Phdr64);
    if (read_at(o.fd, ph, bytes, eh.phoff + u64{first} * sizeof(Phdr64)) != static_cast<isize>(bytes)) return false;
    for (u32 i = 0; i < count; ++i) {
      if (ph[i].type == PT_LOAD_ && o.nloads < sizeof o.loads / sizeof o.loads[0]) {
        o.loads[o.nloads++] = Load{ph[i].vaddr, ph[i].filesz, ph[i].offset};
      } else if (ph[i].type == PT_NOTE_ && nnotes < MAX_NOTES) {
        notes[nnotes++] = Note{ph[i].offset, ph[i].filesz};
      } else if (ph[i].type == PT_GNU_EH_FRAME_) {
        o.hdr = ph[i].vaddr;
        hdr_found = ph[i].vaddr + o.bias == lo.eh_frame_hdr;
      }
    }
  }
  return hdr_found && file_has_build_id(o, notes, nnotes, mapped);
}

// ---- reading the tables -------------------------------------------------------------

/// Sequential reads of an object's file by virtual address, through a
/// window refilled by pread. A read past what the file holds (or a failed
/// pread) marks the cursor failed; later reads then return 0.
class Cursor {
 public:
  Cursor(const Object& o, u64 vaddr) : o_(o), at_(vaddr) {}

  bool ok() const { return ok_; }
  u64 vaddr() const { return at_; }
  void seek(u64 vaddr) { at_ = vaddr; }

  u8 byte() {
    if (!ok_) return 0;
    if (at_ < base_ || at_ >= base_ + len_) refill();
    if (!ok_) return 0;
    return buf_[at_++ - base_];
  }
  [[gnu::noinline]] u64 unsigned_bytes(u32 n) {  // little-endian
    u64 v = 0;
    for (u32 i = 0; i < n; ++i) v |= static_cast<u64>(byte()) << (8 * i);
    return v;
  }
  i64 signed_bytes(u32 n) {
    const u64 v = unsigned_bytes(n);
    const u32 shift = 64 - 8 * n;
    return static_cast<i64>(v << shift) >> shift;
  }
  // DWARF producers may pad a LEB128 field with redundant bytes: up to 12 are read.
  [[gnu::noinline]] u64 uleb() { return leb(false); }
  [[gnu::noinline]] i64 sleb() { return static_cast<i64>(leb(true)); }
  /// A pointer in encoding enc (a virtual address of the file: pc-relative
  /// ones are taken relative to the field's own address, data-relative ones
  /// to `datarel`). Indirect pointers and other bases fail the cursor.
  [[gnu::noinline]] u64 pointer(u8 enc, u64 datarel = 0) {
    const u64 field = at_;
    u64 v = 0;
    switch (enc & 0x0f) {
      case PE_ABSPTR: case PE_UDATA8: case PE_SDATA8: v = unsigned_bytes(8); break;
      case PE_UDATA2: v = unsigned_bytes(2); break;
      case PE_UDATA4: v = unsigned_bytes(4); break;
      case PE_SDATA2: v = static_cast<u64>(signed_bytes(2)); break;
      case PE_SDATA4: v = static_cast<u64>(signed_bytes(4)); break;
      case PE_ULEB128: v = uleb(); break;
      case PE_SLEB128: v = static_cast<u64>(sleb()); break;
      default: ok_ = false; return 0;
    }
    if ((enc & PE_INDIRECT) != 0) {
      ok_ = false;
      return 0;
    }
    switch (enc & 0x70) {
      case 0: return v;
      case PE_PCREL: return field + v;
      case PE_DATAREL: return datarel + v;
      default: ok_ = false; return 0;
    }
  }

 private:
  u64 leb(bool is_signed) {
    u64 v = 0;
    if (!leb128_get([this](u8& b) { return b = byte(), ok_; }, v, 12, is_signed)) ok_ = false;
    return v;
  }
  [[gnu::noinline]] void refill() {
    u64 off = 0, avail = 0;
    if (!o_.offset_of(at_, off, avail)) {
      ok_ = false;
      return;
    }
    const usize want = avail < WINDOW ? static_cast<usize>(avail) : WINDOW;
    const isize got = read_at(o_.fd, buf_, want, off);
    if (got <= 0) {
      ok_ = false;
      return;
    }
    base_ = at_;
    len_ = static_cast<u64>(got);
  }

  const Object& o_;
  u64 at_;
  u64 base_ = 0, len_ = 0;
  bool ok_ = true;
  u8 buf_[WINDOW];
};

/// The virtual address of the FDE whose table entry is the last one at or
/// below pc (the binary search table of .eh_frame_hdr), or 0.
[[gnu::cold, gnu::noinline]] u64 find_fde(const Object& o, u64 pc) {
  Cursor c(o, o.hdr);
  const u8 version = c.byte(), ptr_enc = c.byte(), count_enc = c.byte(), table_enc = c.byte();
  if (!c.ok() || version != 1 || count_enc == PE_OMIT || table_enc != (PE_DATAREL | PE_SDATA4)) return 0;
  (void)c.pointer(ptr_enc, o.hdr);  // .eh_frame's address: not needed
  const u64 count = c.pointer(count_enc, o.hdr);
  if (!c.ok() || count == 0) return 0;
  const u64 table = c.vaddr();
  // Entries are (initial location, FDE address), each 4 bytes relative to the header.
  const auto loc_at = [&](u64 i) {
    c.seek(table + 8 * i);
    return o.hdr + static_cast<u64>(c.signed_bytes(4));
  };
  u64 lo = 0, hi = count;  // the answer is in [lo, hi): loc(lo) <= pc, or lo is 0
  if (loc_at(0) > pc) return 0;
  while (hi - lo > 1 && c.ok()) {
    const u64 mid = lo + (hi - lo) / 2;
    if (loc_at(mid) <= pc) lo = mid;
    else hi = mid;
  }
  c.seek(table + 8 * lo + 4);
  const u64 fde = o.hdr + static_cast<u64>(c.signed_bytes(4));
  return c.ok() ? fde : 0;
}

// ---- call-frame rules -----------------------------------------------------------------

enum class Rule : u8 { Same, Undefined, Offset, ValOffset, Register };

struct RegRule {
  Rule rule = Rule::Same;
  i64 value = 0;  // the offset from the CFA, or the register
};

struct FrameRules {
  u32 cfa_reg = REG_RSP;
  i64 cfa_offset = 8;
  RegRule regs[NREGS];
};

/// What a CIE says about the FDEs that name it.
struct Cie {
  u64 code_align = 1;
  i64 data_align = -8;
  u32 ra_reg = REG_RA;
  u8 fde_enc = PE_ABSPTR;
  bool has_augmentation_data = false;
  u64 instructions = 0, end = 0;  // its initial instructions [instructions, end)
};

[[gnu::cold, gnu::noinline]] bool parse_cie(const Object& o, u64 at, Cie& cie) {
  Cursor c(o, at);
  const u64 length = c.unsigned_bytes(4);
  if (length == 0 || length >= 0xfffffff0u) return false;
  cie.end = at + 4 + length;
  if (c.unsigned_bytes(4) != 0) return false;  // a CIE's id in .eh_frame
  const u8 version = c.byte();
  if (version != 1 && version != 3) return false;
  char aug[8];
  usize naug = 0;
  for (u8 ch = c.byte(); ch != 0; ch = c.byte()) {
    if (!c.ok() || naug == sizeof aug) return false;
    aug[naug++] = static_cast<char>(ch);
  }
  cie.code_align = c.uleb();
  cie.data_align = c.sleb();
  cie.ra_reg = version == 1 ? c.byte() : static_cast<u32>(c.uleb());
  if (naug > 0 && aug[0] == 'z') {
    cie.has_augmentation_data = true;
    const u64 len = c.uleb();
    const u64 data_end = c.vaddr() + len;
    for (usize i = 1; i < naug && c.ok(); ++i) {
      switch (aug[i]) {
        case 'R': cie.fde_enc = c.byte(); break;
        case 'P': {  // the personality routine: its encoding and value, skipped
          const u8 enc = c.byte();
          (void)c.pointer(static_cast<u8>(enc & 0x7f));
          break;
        }
        case 'L': (void)c.byte(); break;  // the LSDA's encoding
        case 'B': break;                  // AArch64 pointer authentication key
        default: return false;            // 'S' (a signal frame) and anything unknown
      }
    }
    c.seek(data_end);
  } else if (naug != 0) {
    return false;  // "eh" and other pre-'z' augmentations
  }
  cie.instructions = c.vaddr();
  return c.ok() && cie.ra_reg < NREGS && cie.code_align != 0 && cie.instructions <= cie.end;
}

/// v x factor, computed without signed overflow (malformed tables may hold
/// any value; the result then is garbage, which the walk's checks reject).
i64 scaled(u64 v, i64 factor) { return static_cast<i64>(v * static_cast<u64>(factor)); }

/// Runs the call-frame instructions in [from, to) while their location is at
/// or below `target`, starting at location `loc`. `initial` is the CIE's
/// state (DW_CFA_restore's reference). False on an instruction the walk does
/// not support (expressions) or a malformed table.
[[gnu::cold, gnu::noinline]] bool run_instructions(const Object& o, const Cie& cie, u64 from, u64 to, u64 loc,
                                                   u64 target, FrameRules& fr, const FrameRules& initial) {
  Cursor c(o, from);
  FrameRules saved[MAX_STATES];
  usize depth = 0;
  const auto set = [&](u64 reg, Rule rule, i64 value) {
    if (reg < NREGS) fr.regs[reg] = RegRule{rule, value};  // registers the walk does not carry are ignored
  };
  // The *_extended, *_sf and val_offset forms: a register (ULEB), then its
  // offset in data-alignment units, unsigned (ULEB) or signed (SLEB).
  const auto set_factored = [&](Rule rule, bool signed_offset) {
    const u64 reg = c.uleb();
    const u64 factored = signed_offset ? static_cast<u64>(c.sleb()) : c.uleb();
    set(reg, rule, scaled(factored, cie.data_align));
  };
  const auto advance = [&](u64 delta) {
    loc += delta * cie.code_align;
    return loc <= target;
  };
  while (c.vaddr() < to) {
    const u8 op = c.byte();
    if (!c.ok()) return false;
    const u8 low = op & 0x3f;
    switch (op >> 6) {
      case 1:  // DW_CFA_advance_loc
        if (!advance(low)) return true;
        continue;
      case 2:  // DW_CFA_offset
        set(low, Rule::Offset, scaled(c.uleb(), cie.data_align));
        continue;
      case 3:  // DW_CFA_restore
        if (low < NREGS) fr.regs[low] = initial.regs[low];
        continue;
      default: break;
    }
    switch (op) {
      case 0x00: break;  // DW_CFA_nop
      case 0x01: {       // DW_CFA_set_loc
        loc = c.pointer(cie.fde_enc);
        if (loc > target) return true;
        break;
      }
      case 0x02: if (!advance(c.byte())) return true; break;               // advance_loc1
      case 0x03: if (!advance(c.unsigned_bytes(2))) return true; break;    // advance_loc2
      case 0x04: if (!advance(c.unsigned_bytes(4))) return true; break;    // advance_loc4
      case 0x05: set_factored(Rule::Offset, false); break;  // DW_CFA_offset_extended
      case 0x06: {  // DW_CFA_restore_extended
        const u64 reg = c.uleb();
        if (reg < NREGS) fr.regs[reg] = initial.regs[reg];
        break;
      }
      case 0x07: set(c.uleb(), Rule::Undefined, 0); break;  // DW_CFA_undefined
      case 0x08: set(c.uleb(), Rule::Same, 0); break;       // DW_CFA_same_value
      case 0x09: {                                           // DW_CFA_register
        const u64 reg = c.uleb();
        set(reg, Rule::Register, static_cast<i64>(c.uleb()));
        break;
      }
      case 0x0a:  // DW_CFA_remember_state
        if (depth == MAX_STATES) return false;
        saved[depth++] = fr;
        break;
      case 0x0b:  // DW_CFA_restore_state: the CFA rule too (DWARF 5, and what GCC's epilogues rely on)
        if (depth == 0) return false;
        fr = saved[--depth];
        break;
      case 0x0c:  // DW_CFA_def_cfa
        fr.cfa_reg = static_cast<u32>(c.uleb());
        fr.cfa_offset = static_cast<i64>(c.uleb());
        break;
      case 0x0d: fr.cfa_reg = static_cast<u32>(c.uleb()); break;          // DW_CFA_def_cfa_register
      case 0x0e: fr.cfa_offset = static_cast<i64>(c.uleb()); break;       // DW_CFA_def_cfa_offset
      case 0x11: set_factored(Rule::Offset, true); break;                  // DW_CFA_offset_extended_sf
      case 0x12:  // DW_CFA_def_cfa_sf
        fr.cfa_reg = static_cast<u32>(c.uleb());
        fr.cfa_offset = scaled(static_cast<u64>(c.sleb()), cie.data_align);
        break;
      case 0x13: fr.cfa_offset = scaled(static_cast<u64>(c.sleb()), cie.data_align); break;  // DW_CFA_def_cfa_offset_sf
      case 0x14: set_factored(Rule::ValOffset, false); break;  // DW_CFA_val_offset
      case 0x15: set_factored(Rule::ValOffset, true); break;   // DW_CFA_val_offset_sf
      case 0x2e: (void)c.uleb(); break;  // DW_CFA_GNU_args_size
      case 0x2f: {                        // DW_CFA_GNU_negative_offset_extended
        const u64 reg = c.uleb();
        set(reg, Rule::Offset, scaled(0 - c.uleb(), cie.data_align));
        break;
      }
      default: return false;  // the expression rules (0x0f, 0x10, 0x16) and anything unknown
    }
    if (!c.ok()) return false;
  }
  return true;
}

/// The rules in effect at `target` (a virtual address of o) from its FDE;
/// false when the tables do not cover it or use what the walk does not support.
[[gnu::cold, gnu::noinline]] bool rules_at(const Object& o, u64 target, FrameRules& fr, u32& ra_reg) {
  const u64 fde = find_fde(o, target);
  if (fde == 0) return false;
  Cursor c(o, fde);
  const u64 length = c.unsigned_bytes(4);
  if (!c.ok() || length == 0 || length >= 0xfffffff0u) return false;
  const u64 id_at = c.vaddr();
  const u64 end = id_at + length;
  const u64 cie_delta = c.unsigned_bytes(4);
  if (cie_delta == 0 || cie_delta > id_at) return false;  // 0 would make it a CIE
  Cie cie;
  if (!parse_cie(o, id_at - cie_delta, cie)) return false;
  const u64 begin = c.pointer(cie.fde_enc);
  const u64 range = c.pointer(static_cast<u8>(cie.fde_enc & 0x0f));
  if (!c.ok() || target < begin || target - begin >= range) return false;
  if (cie.has_augmentation_data) c.seek(c.vaddr() + c.uleb());
  if (!c.ok()) return false;
  fr = FrameRules{};
  if (!run_instructions(o, cie, cie.instructions, cie.end, begin, ~u64{0}, fr, fr)) return false;
  const FrameRules initial = fr;
  if (!run_instructions(o, cie, c.vaddr(), end, begin, target, fr, initial)) return false;
  ra_reg = cie.ra_reg;
  return true;
}

// ---- what a frame's rules say, compactly, and a cache of them ------------------------

// The registers a walk carries, in this order: the callee-saved ones and the
// stack pointer (a CFA is defined by rsp or rbp; the others come back with
// the caller's values) and the return address column.
constexpr u32 CARRIED[] = {REG_RBX, REG_RBP, REG_RSP, REG_R12, 13, 14, REG_R15, REG_RA};
constexpr u32 NCARRIED = sizeof CARRIED / sizeof CARRIED[0];
constexpr u32 SLOT_RSP = 2, SLOT_RA = 7;

constexpr i32 slot_of(u32 reg) {
  for (u32 i = 0; i < NCARRIED; ++i)
    if (CARRIED[i] == reg) return static_cast<i32>(i);
  return -1;
}

/// The rules of one frame for the carried registers.
struct Frame {  // all zero by default, so that the cache below lies in .bss
  bool unsupported = false;  // the rules use what the walk does not cover (only in the cache)
  u8 cfa_slot = 0;
  bool outermost = false;  // the return address is undefined: no caller
  i32 cfa_offset = 0;
  Rule rule[NCARRIED] = {};
  i32 value[NCARRIED] = {};  // an offset from the CFA, or a slot (Rule::Register)
};

/// Frame from the full rules; false when they name what the walk does not carry.
[[gnu::cold, gnu::noinline]] bool compact(const FrameRules& fr, u32 ra_reg, Frame& f) {
  // A rule for rsp of its own (rather than "the CFA") is not what compilers
  // emit; libgcc would honour it, so the walk gives up rather than differ.
  if (ra_reg != REG_RA || fr.regs[REG_RSP].rule != Rule::Same) return false;
  const i32 cfa = slot_of(fr.cfa_reg);
  if (cfa < 0 || fr.cfa_offset < -(i64{1} << 30) || fr.cfa_offset > (i64{1} << 30)) return false;
  f.cfa_slot = static_cast<u8>(cfa);
  f.cfa_offset = static_cast<i32>(fr.cfa_offset);
  f.outermost = fr.regs[REG_RA].rule == Rule::Undefined;
  for (u32 i = 0; i < NCARRIED; ++i) {
    const RegRule& r = fr.regs[CARRIED[i]];
    f.rule[i] = r.rule;
    f.value[i] = static_cast<i32>(r.value);
    if (r.rule == Rule::Register) {
      const i32 from = r.value >= 0 && r.value < static_cast<i64>(NREGS) ? slot_of(static_cast<u32>(r.value)) : -1;
      if (from < 0) f.rule[i] = Rule::Undefined;  // a register the walk does not carry: unknown
      f.value[i] = from;
    } else if (r.value < -(i64{1} << 30) || r.value > (i64{1} << 30)) {
      return false;
    }
  }
  return true;
}

/// Frames already decoded, by pc: a guarded sample's stack mostly repeats
/// the previous ones', and a hit costs no system call. One walk at a time
/// uses it (a walk that finds it busy decodes from the files); a fork child
/// clears the flag (reset_file_unwind_in_child).
struct CacheEntry {
  uptr pc = 0, table = 0;  // the pc looked up and its object's .eh_frame_hdr (run-time addresses)
  u64 id = 0;              // its object's build id (first 8 bytes): another object loaded at the
                           // same addresses after a dlclose does not match
  Frame frame;
};
constexpr usize CACHE_ENTRIES = 256, CACHE_WAYS = 4;  // a frame may sit in any of 4 entries from its hash
CacheEntry g_cache[CACHE_ENTRIES];
u32 g_cache_busy = 0;
u32 g_cache_victim = 0;  // which of the 4 a new frame replaces when all are taken (round robin)

/// Walks in progress in the process, and whether a fork holds new ones off
/// (hold_file_walks). A walk counts itself in, then reads the hold; the fork
/// sets the hold, then reads the count: with both sequentially consistent,
/// one of the two sees the other.
u32 g_walks = 0;
bool g_walks_held = false;
/// Walks in progress on this thread (more than one when a signal handler's
/// walk interrupted one): hold_file_walks does not wait for these.
constinit thread_local u32 t_walks = 0;

usize cache_index(uptr pc) { return static_cast<usize>((pc * 0x9E3779B97F4A7C15ull) >> 56) & (CACHE_ENTRIES - 1); }

/// The entry holding the frame at pc of the object with table `table` and build id `id`, or null.
[[gnu::cold, gnu::noinline]] const CacheEntry* cache_find(uptr pc, uptr table, u64 id) {
  const usize i = cache_index(pc);
  for (usize w = 0; w < CACHE_WAYS; ++w) {
    const CacheEntry& e = g_cache[(i + w) & (CACHE_ENTRIES - 1)];
    if (e.pc == pc && e.table == table && e.id == id) return &e;
  }
  return nullptr;
}

[[gnu::cold, gnu::noinline]] void cache_put(uptr pc, uptr table, u64 id, const Frame& f) {
  const usize i = cache_index(pc);
  CacheEntry* slot = nullptr;
  for (usize w = 0; w < CACHE_WAYS && slot == nullptr; ++w)
    if (g_cache[(i + w) & (CACHE_ENTRIES - 1)].pc == 0) slot = &g_cache[(i + w) & (CACHE_ENTRIES - 1)];
  if (slot == nullptr) slot = &g_cache[(i + (g_cache_victim++ % CACHE_WAYS)) & (CACHE_ENTRIES - 1)];
  slot->pc = pc;
  slot->table = table;
  slot->id = id;
  slot->frame = f;
}

// ---- the walk -------------------------------------------------------------------------

struct Regs {
  u64 value[NCARRIED] = {};
  bool known[NCARRIED] = {};
};

/// The objects of one walk: identified by their mapped build id, and opened
/// when a frame of theirs must be decoded; closed when the walk ends.
class Objects {
 public:
  Objects() = default;
  Objects(const Objects&) = delete;
  Objects& operator=(const Objects&) = delete;
  ~Objects() {
    for (usize i = 0; i < n_; ++i)
      if (entries_[i].object.fd >= 0) close_fd(entries_[i].object.fd);
  }
  /// The build id of the object `found` (find_object's answer for a pc), or
  /// null when it has none the walk can read (or the walk met too many objects).
  const BuildId* identify(const LoadedObject& found) {
    Entry* e = entry(found);
    return e != nullptr && e->id.len != 0 ? &e->id : nullptr;
  }
  /// The object `found`, opened; null when its file cannot be read or verified.
  const Object* open(const LoadedObject& found) {
    Entry* e = entry(found);
    if (e == nullptr || e->id.len == 0) return nullptr;
    if (!e->tried) {
      e->tried = true;
      if (!open_object(found, e->id, e->object)) e->object.hdr = 0;  // remembered as unreadable
    }
    return e->object.hdr != 0 ? &e->object : nullptr;
  }

 private:
  struct Entry {
    uptr lo = 0;
    BuildId id;
    bool tried = false;
    Object object;
  };
  Entry* entry(const LoadedObject& found) {
    for (usize i = 0; i < n_; ++i)
      if (entries_[i].lo == found.lo) return &entries_[i];
    if (n_ == MAX_OBJECTS) return nullptr;
    Entry& e = entries_[n_++];
    e.lo = found.lo;
    if (!mapped_build_id(found.lo, e.id)) e.id.len = 0;
    return &e;
  }
  Entry entries_[MAX_OBJECTS];
  usize n_ = 0;
};

/// The rules of the frame executing at pc (a return address unless `exact`),
/// from the cache or from its object's file.
[[gnu::cold, gnu::noinline]] bool frame_at(Objects& objects, uptr pc, bool exact, bool use_cache, Frame& f) {
  LoadedObject lo;
  if (!find_object(reinterpret_cast<const void*>(pc), lo) || lo.eh_frame_hdr == 0) return false;
  const BuildId* id = objects.identify(lo);
  if (id == nullptr) return false;  // no build id to tell this object from one loaded later at its place
  // A return address may follow a call that ends its function: its rules are those of the call.
  const uptr at = exact ? pc : pc - 1;
  if (use_cache) {
    if (const CacheEntry* e = cache_find(at, lo.eh_frame_hdr, id->prefix())) {
      f = e->frame;
      return !f.unsupported;
    }
  }
  const Object* o = objects.open(lo);
  FrameRules fr;
  u32 ra_reg = REG_RA;
  const bool ok = o != nullptr && rules_at(*o, at - o->bias, fr, ra_reg) && compact(fr, ra_reg, f);
  // A frame the walk does not cover, or of an object whose file it cannot
  // read, is remembered too: the next walks through it hand over to libgcc
  // without trying the file again (nor filling an audit log with refusals).
  if (!ok) f = Frame{.unsupported = true};
  if (use_cache) cache_put(at, lo.eh_frame_hdr, id->prefix(), f);
  return ok;
}

/// Reads the 8 bytes at addr if they lie in [lo, hi): the stack between the
/// walk's start and the frame's CFA. The tables come from the very file the
/// loader mapped (build id checked), so their rules name slots of this
/// thread's stack, as libgcc reads them too; the bounds keep a rule that is
/// wrong anyway inside the stack span the walk has established.
[[gnu::cold, gnu::noinline]] __attribute__((no_sanitize("address", "thread"))) bool read_stack(uptr addr, uptr lo,
                                                                                           uptr hi, u64& out) {
  if (addr < lo || hi < 8 || addr > hi - 8 || (addr & 7) != 0) return false;
  out = *reinterpret_cast<const volatile u64*>(addr);
  return true;
}

/// From the registers of a frame with rules f to its caller's; false when
/// the stack does not hold what the rules say.
[[gnu::cold, gnu::noinline]] bool step(const Frame& f, Regs& r, uptr stack_lo) {
  if (!r.known[f.cfa_slot]) return false;
  const uptr sp = r.value[SLOT_RSP];
  const uptr cfa = static_cast<uptr>(r.value[f.cfa_slot] + static_cast<u64>(static_cast<i64>(f.cfa_offset)));
  if (cfa <= sp || cfa - sp > MAX_FRAME) return false;
  Regs next;
  for (u32 i = 0; i < NCARRIED; ++i) {
    switch (f.rule[i]) {
      case Rule::Same:
        next.value[i] = r.value[i];
        next.known[i] = r.known[i];
        break;
      case Rule::Undefined: break;
      case Rule::Offset:  // saved in this frame: between its stack pointer and the CFA
        next.known[i] = read_stack(cfa + static_cast<uptr>(static_cast<i64>(f.value[i])), stack_lo, cfa, next.value[i]);
        break;
      case Rule::ValOffset:
        next.value[i] = cfa + static_cast<u64>(static_cast<i64>(f.value[i]));
        next.known[i] = true;
        break;
      case Rule::Register:
        next.value[i] = r.value[f.value[i]];
        next.known[i] = r.known[f.value[i]];
        break;
    }
  }
  if (!next.known[SLOT_RA]) return false;
  next.value[SLOT_RSP] = cfa;  // the caller's stack pointer once the call returned
  next.known[SLOT_RSP] = true;
  r = next;
  return true;
}

}  // namespace

bool file_walk_allowed() {
  rt::LineReader status("/proc/self/status");
  usize len = 0;
  for (const char* line = status.next(len); line != nullptr; line = status.next(len)) {
    if (len >= 9 && __builtin_memcmp(line, "Seccomp:", 8) == 0) {
      usize i = 8;
      while (i < len && (line[i] == ' ' || line[i] == '\t')) ++i;
      return i + 1 == len && line[i] == '0';  // "Seccomp:\t0": no filter, no strict mode
    }
  }
  return false;
}

void hold_file_walks() {
  __atomic_store_n(&g_walks_held, true, __ATOMIC_SEQ_CST);
  while (__atomic_load_n(&g_walks, __ATOMIC_SEQ_CST) > t_walks) yield();
}

void release_file_walks() { __atomic_store_n(&g_walks_held, false, __ATOMIC_SEQ_CST); }

void reset_file_unwind_in_child() {
  // A walk of another thread of the parent may have been writing an entry.
  if (__atomic_load_n(&g_cache_busy, __ATOMIC_RELAXED) != 0) forget_decoded_frames();
  __atomic_store_n(&g_cache_busy, 0u, __ATOMIC_RELAXED);
}

void forget_decoded_frames() {
  for (CacheEntry& e : g_cache) e = CacheEntry{};
}


[[gnu::cold, gnu::noinline]] bool backtrace_from_files(void** out, usize max, uptr skip_lo, uptr skip_hi, usize& n) {
  n = 0;
  if (max == 0) return true;
  // This function's own registers at a known pc: the walk's first frame.
  u64 at[8];
  asm volatile(
      "lea 0(%%rip), %%rax\n\t"
      "mov %%rax, 0(%0)\n\t"
      "mov %%rsp, 8(%0)\n\t"
      "mov %%rbp, 16(%0)\n\t"
      "mov %%rbx, 24(%0)\n\t"
      "mov %%r12, 32(%0)\n\t"
      "mov %%r13, 40(%0)\n\t"
      "mov %%r14, 48(%0)\n\t"
      "mov %%r15, 56(%0)\n\t"
      :
      : "r"(at)
      : "rax", "memory");
  Regs r;
  const u32 order[] = {REG_RSP, REG_RBP, REG_RBX, REG_R12, 13, 14, REG_R15};  // at[1..7]
  for (usize i = 0; i < sizeof order / sizeof order[0]; ++i) {
    const i32 slot = slot_of(order[i]);
    r.value[slot] = at[i + 1];
    r.known[slot] = true;
  }
  ++t_walks;
  __atomic_add_fetch(&g_walks, 1u, __ATOMIC_SEQ_CST);
  struct Leave {  // the walk ends (its files closed, ~Objects below) before it leaves the count
    ~Leave() {
      __atomic_sub_fetch(&g_walks, 1u, __ATOMIC_SEQ_CST);
      --t_walks;
    }
  } leave;
  if (__atomic_load_n(&g_walks_held, __ATOMIC_SEQ_CST)) return false;  // a fork is under way
  const uptr stack_lo = at[1];
  uptr pc = at[0];
  bool skipping = skip_hi > skip_lo;
  const bool use_cache = __atomic_exchange_n(&g_cache_busy, 1u, __ATOMIC_ACQUIRE) == 0;
  bool complete = false;
  {
    Objects objects;
    for (bool first = true;; first = false) {
      if (!first) {  // pc is a return address: a frame of the stack
        if (pc == 0) break;  // not how glibc ends a stack (an undefined return address): libgcc decides
        if (!(skipping && pc - skip_lo < skip_hi - skip_lo)) {
          skipping = false;
          out[n++] = reinterpret_cast<void*>(pc);
          if (n == max) {
            complete = true;
            break;
          }
        }
      }
      Frame f;
      if (!frame_at(objects, pc, first, use_cache, f)) break;
      if (f.outermost) {  // _start, a thread's start
        complete = true;
        break;
      }
      if (!step(f, r, stack_lo)) break;
      pc = static_cast<uptr>(r.value[SLOT_RA]);
    }
  }
  if (use_cache) __atomic_store_n(&g_cache_busy, 0u, __ATOMIC_RELEASE);
  return complete;
}

#else  // not x86-64: the caller walks with libgcc

bool backtrace_from_files(void**, usize, uptr, uptr, usize& n) {
  n = 0;
  return false;
}

bool file_walk_allowed() { return false; }
void hold_file_walks() {}
void release_file_walks() {}
void reset_file_unwind_in_child() {}
void forget_decoded_frames() {}

#endif

}  // namespace strata::os
