# cython: language_level=3
#
# pthread.pxd: the POSIX threads calls the kernels use (Cython ships no posix/pthread.pxd):
# the mark worker threads (tricolor), the parallel markers (parmark), the mutator threads and
# their stop-the-world handshake (heap).  Declared once here; cimport what you need.

cdef extern from "<pthread.h>" nogil:
    ctypedef unsigned long pthread_t
    ctypedef struct pthread_mutex_t:
        pass
    ctypedef struct pthread_cond_t:
        pass
    ctypedef struct pthread_attr_t:
        pass
    ctypedef struct pthread_mutexattr_t:
        pass
    ctypedef struct pthread_condattr_t:
        pass
    ctypedef void* (*pthread_start_fn)(void*) noexcept nogil
    int pthread_create(pthread_t* thread, const pthread_attr_t* attr, pthread_start_fn start, void* arg)
    int pthread_join(pthread_t thread, void** retval)
    int pthread_mutex_init(pthread_mutex_t* m, const pthread_mutexattr_t* attr)
    int pthread_mutex_destroy(pthread_mutex_t* m)
    int pthread_mutex_lock(pthread_mutex_t* m)
    int pthread_mutex_trylock(pthread_mutex_t* m)
    int pthread_mutex_unlock(pthread_mutex_t* m)
    int pthread_cond_init(pthread_cond_t* c, const pthread_condattr_t* attr)
    int pthread_cond_destroy(pthread_cond_t* c)
    int pthread_cond_wait(pthread_cond_t* c, pthread_mutex_t* m)
    int pthread_cond_signal(pthread_cond_t* c)
    int pthread_cond_broadcast(pthread_cond_t* c)
