/*
** sched/switch_x86_64.S -- goroutine context switch (SysV x86-64).
**
** Saves only what the ABI makes callee-saved: rbx, rbp, r12-r15, rsp.
** Everything else is dead at a call, and the switch is a call from the
** point of view of both sides. Not the x87 control word nor MXCSR: Go does
** not keep them per goroutine either (the scheduler saves them in C for a
** goroutine spawned with SCHED_SPAWN_FPCTL). Frame layout: see
** the picture in sched_int.h. Both stacks hold the same layout at the same
** offsets, so one set of CFI notes describes either side of the swap.
*/

    .text

/* void sched__switch(sched__ctx_t *from, const sched__ctx_t *to) */
    .globl  sched__switch
    .hidden sched__switch
    .type   sched__switch, @function
    .p2align 4
sched__switch:
    .cfi_startproc
    pushq   %rbp
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset rbp, 0
    pushq   %rbx
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset rbx, 0
    pushq   %r12
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset r12, 0
    pushq   %r13
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset r13, 0
    pushq   %r14
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset r14, 0
    pushq   %r15
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset r15, 0

    movq    %rsp, (%rdi)            /* from->sp */
    movq    (%rsi), %rsp            /* to->sp: now on the other stack */

    popq    %r15
    .cfi_adjust_cfa_offset -8
    .cfi_restore r15
    popq    %r14
    .cfi_adjust_cfa_offset -8
    .cfi_restore r14
    popq    %r13
    .cfi_adjust_cfa_offset -8
    .cfi_restore r13
    popq    %r12
    .cfi_adjust_cfa_offset -8
    .cfi_restore r12
    popq    %rbx
    .cfi_adjust_cfa_offset -8
    .cfi_restore rbx
    popq    %rbp
    .cfi_adjust_cfa_offset -8
    .cfi_restore rbp
    ret
    .cfi_endproc
    .size   sched__switch, .-sched__switch

/* First "return address" of a new goroutine. Entered by sched__switch's ret
** with rsp 16-byte aligned and the scheduler in rbx; never returns. The
** undefined return address ends debugger backtraces here. */
    .globl  sched__trampoline
    .hidden sched__trampoline
    .type   sched__trampoline, @function
    .p2align 4
sched__trampoline:
    .cfi_startproc
    .cfi_undefined rip
    xorl    %ebp, %ebp
    movq    %rbx, %rdi
    call    sched__gor_entry
    ud2
    .cfi_endproc
    .size   sched__trampoline, .-sched__trampoline

    .section .note.GNU-stack, "", @progbits
