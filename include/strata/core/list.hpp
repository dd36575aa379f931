// strata core: intrusive doubly linked list (circular, with a sentinel).
//
// Nodes live inside the memory they describe (free blocks, spans), so the list
// never allocates. Not thread-safe: callers lock.
#pragma once
#include "strata/core/types.hpp"

namespace strata {

/// A list node to embed as the *first* member of a struct, so a node pointer
/// converts to the struct with reinterpret_cast. An unlinked node points at itself.
struct ListNode {
  ListNode* prev = this;
  ListNode* next = this;
  bool linked() const { return next != this; }
};

/// Circular list with an embedded sentinel. A zero-initialised list (both
/// sentinel links null, as a constinit or static object has before anything
/// runs) is a valid empty list: it links its sentinel to itself on its first
/// insertion. So an object made of lists needs no relocation at load and can
/// live in .bss, where its pages stay untouched until used. init() empties
/// the list (forgetting its nodes) once the object has its final address.
class IntrusiveList {
 public:
  void init() { head_.prev = head_.next = &head_; }
  bool empty() const { return head_.next == &head_ || head_.next == nullptr; }
  ListNode* front() const { return empty() ? nullptr : head_.next; }
  void push_front(ListNode* n) {
    if (head_.next == nullptr) init();
    insert_after(&head_, n);
  }
  void push_back(ListNode* n) {
    if (head_.next == nullptr) init();
    insert_after(head_.prev, n);
  }
  static void remove(ListNode* n) {
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = n;
  }
  ListNode* pop_front() {
    if (empty()) return nullptr;
    ListNode* n = head_.next;
    remove(n);
    return n;
  }
  /// Iteration: for (ListNode* n = l.first(); n != l.end(); n = n->next)
  ListNode* first() const { return head_.next != nullptr ? head_.next : const_cast<ListNode*>(&head_); }
  const ListNode* end() const { return &head_; }

 private:
  static void insert_after(ListNode* at, ListNode* n) {
    n->prev = at;
    n->next = at->next;
    at->next->prev = n;
    at->next = n;
  }
  ListNode head_{nullptr, nullptr};  // zero: empty, not yet linked (class comment)
};

}  // namespace strata
