/*
** sched/systemstack_x86_64.S -- run a function on another stack (SysV
** x86-64), for sched_systemstack().
**
** void sched__call_on_stack(void *stack_top, void (*fn)(void *), void *arg)
**
** Switches rsp to stack_top (aligned down to 16), calls fn(arg) there and
** comes back to the caller's stack. rbp keeps the caller's frame, so a
** debugger and the CFI below walk from the other stack back to the caller.
*/

    .text
    .globl  sched__call_on_stack
    .hidden sched__call_on_stack
    .type   sched__call_on_stack, @function
    .p2align 4
sched__call_on_stack:
    .cfi_startproc
    pushq   %rbp
    .cfi_def_cfa_offset 16
    .cfi_offset rbp, -16
    movq    %rsp, %rbp
    .cfi_def_cfa_register rbp
    movq    %rdi, %rsp
    andq    $-16, %rsp
    movq    %rdx, %rdi
    callq   *%rsi
    movq    %rbp, %rsp
    popq    %rbp
    .cfi_def_cfa rsp, 8
    ret
    .cfi_endproc
    .size   sched__call_on_stack, .-sched__call_on_stack

    .section .note.GNU-stack, "", @progbits
