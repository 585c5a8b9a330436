#ifndef TYPES_H
#define TYPES_H
typedef long money_t;
typedef struct account { const char *owner; money_t balance; } account_t;
#define FEE 2
#endif
