#ifndef CLEAVE_OPENBLAS_SHIM_H
#define CLEAVE_OPENBLAS_SHIM_H
#include <stddef.h>
#include <cblas.h>
// Not declared by every cblas.h; part of OpenBLAS's exported API.
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);

// LAPACK routines that libopenblas exports (Debian ships them without the
// LAPACKE C interface). Fortran calling convention: every argument by
// pointer, matrices column-major, and a trailing hidden length for each
// CHARACTER argument (gfortran passes size_t; passing it is harmless for the
// routines OpenBLAS implements in C).

/// Eigenvalues (ascending) and eigenvectors of a symmetric matrix, divide and conquer.
void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w,
             double *work, const int *lwork, int *iwork, const int *liwork, int *info,
             size_t jobz_len, size_t uplo_len);
/// QR factorisation (Householder reflectors in A and tau).
void sgeqrf_(const int *m, const int *n, float *a, const int *lda, float *tau, float *work,
             const int *lwork, int *info);
/// The first n columns of Q from sgeqrf's reflectors.
void sorgqr_(const int *m, const int *n, const int *k, float *a, const int *lda, const float *tau,
             float *work, const int *lwork, int *info);
/// Solves A·X = B for symmetric positive definite A (Cholesky).
void dposv_(const char *uplo, const int *n, const int *nrhs, double *a, const int *lda, double *b,
            const int *ldb, int *info, size_t uplo_len);
#endif
