#ifndef PAIR_H
#define PAIR_H
struct pair { int lo, hi; };
#endif
