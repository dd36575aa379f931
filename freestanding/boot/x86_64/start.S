/*
 * strata firmware boot, x86_64: QEMU microvm loads this ELF through its PVH
 * note and enters pvh_start in 32-bit protected mode, paging off.
 *
 * The 32-bit trampoline (linked and run at its physical address, 1 MiB)
 * builds page tables that map the first GiB twice, identity and at
 * 0xffffffff80000000 (the kernel code model's window, where the rest of the
 * image is linked), enables long mode, loads a 64-bit GDT and jumps high. The
 * 64-bit entry sets the stack, zeroes .bss, installs the IDT (x86_install_idt
 * in platform.cpp), runs .init_array and calls fw_main(); its result goes to
 * fw_exit(). CPU exceptions 0..31 report through fw_trap(vector |
 * error_code << 32, rip, cr2) and never return: the boot fails.
 */
#define KERNEL_VMA 0xffffffff80000000

/* Xen PVH entry point note (XEN_ELFNOTE_PHYS32_ENTRY = 18). */
  .section .note.pvh, "a", @note
  .balign 4
  .long 4, 4, 18
  .asciz "Xen"
  .balign 4
  .long pvh_start

  .section .boot.text, "ax", @progbits
  .code32
  .globl pvh_start
pvh_start:
  cli
  cld
  movl $boot_tables, %edi      /* zero the tables: they live in NOLOAD memory */
  movl $(4 * 4096 / 4), %ecx
  xorl %eax, %eax
  rep stosl
  movl $(boot_pdpt_low + 3), boot_pml4
  movl $(boot_pdpt_high + 3), boot_pml4 + 511 * 8
  movl $(boot_pd + 3), boot_pdpt_low
  movl $(boot_pd + 3), boot_pdpt_high + 510 * 8
  movl $boot_pd, %edi          /* 512 x 2 MiB pages: physical 0 .. 1 GiB */
  movl $0x83, %eax             /* present | writable | page size */
  movl $512, %ecx
1:
  movl %eax, (%edi)
  addl $0x200000, %eax
  addl $8, %edi
  loop 1b

  movl %cr4, %eax
  orl $0x20, %eax              /* PAE */
  movl %eax, %cr4
  movl $boot_pml4, %eax
  movl %eax, %cr3
  movl $0xc0000080, %ecx       /* EFER.LME */
  rdmsr
  orl $0x100, %eax
  wrmsr
  movl %cr0, %eax
  orl $0x80000001, %eax        /* PG | PE */
  movl %eax, %cr0
  lgdt boot_gdt_ptr
  ljmp $0x08, $long_mode_low

  .code64
long_mode_low:
  movw $0x10, %ax
  movw %ax, %ds
  movw %ax, %es
  movw %ax, %ss
  xorw %ax, %ax
  movw %ax, %fs
  movw %ax, %gs
  movabsq $long_mode_high, %rax
  jmpq *%rax

  .section .boot.data, "aw", @progbits
  .balign 16
boot_gdt:
  .quad 0
  .quad 0x00af9a000000ffff     /* 0x08: 64-bit code */
  .quad 0x00cf92000000ffff     /* 0x10: data */
boot_gdt_end:
boot_gdt_ptr:
  .word boot_gdt_end - boot_gdt - 1
  .long boot_gdt

  .section .boot.bss, "aw", @nobits
  .balign 4096
boot_tables:
boot_pml4: .skip 4096
boot_pdpt_low: .skip 4096
boot_pdpt_high: .skip 4096
boot_pd: .skip 4096

  .text
long_mode_high:
  movq $__stack_top, %rsp
  movq $__bss_start, %rdi
  movq $__bss_end, %rcx
  subq %rdi, %rcx
  shrq $3, %rcx
  xorl %eax, %eax
  rep stosq
  call x86_install_idt
  movq $__init_array_start, %rbx
2:
  cmpq $__init_array_end, %rbx
  jae 3f
  callq *(%rbx)
  addq $8, %rbx
  jmp 2b
3:
  call fw_main
  movl %eax, %edi
  call fw_exit                 /* never returns */
park:
  hlt
  jmp park

/* Exception stubs, one per 16 bytes for vectors 0..31 (x86_install_idt
   relies on that spacing). Vectors that push no error code push a zero, so
   the frame is always {vector, error, rip, cs, rflags, rsp, ss}. */
  .balign 16
  .globl x86_trap_stubs
x86_trap_stubs:
  .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
  .balign 16
  .if (\v == 8) || (\v == 10) || (\v == 11) || (\v == 12) || (\v == 13) || (\v == 14) || (\v == 17) || (\v == 21) || (\v == 29) || (\v == 30)
  .else
  pushq $0
  .endif
  pushq $\v
  jmp trap_common
  .endr

trap_common:
  movq (%rsp), %rdi            /* vector */
  movq 8(%rsp), %rax           /* error code */
  shlq $32, %rax
  orq %rax, %rdi
  movq 16(%rsp), %rsi          /* rip */
  movq %cr2, %rdx              /* faulting address of a page fault */
  movq $__stack_top, %rsp      /* the fault may have come from a bad rsp */
  call fw_trap
  jmp park
