/*
 * overlapped_win32.h: the Windows names a Winsock program uses, for Linux,
 * backed by liboverlapped (the Rust `overlapped` crate on io_uring).
 * Every public header of this directory (winsock2.h, windows.h, ...) includes
 * this one file. Types and constants have Windows x64's sizes and values.
 * Functions whose names libc also has (socket, bind, send, ...) are bound to
 * the library's `ovl_` symbols with asm labels, so libc keeps its own.
 */
#ifndef OVERLAPPED_WIN32_H
#define OVERLAPPED_WIN32_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <stdlib.h>
#include <wchar.h>
#include <sys/types.h>
#include <sys/select.h>
#include <sys/time.h>
#include <strings.h>
#include <stdio.h>
#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef _WIN32
#define _WIN32 1
#endif
#ifndef _WIN64
#define _WIN64 1
#endif
#ifndef _WINSOCK2API_
#define _WINSOCK2API_
#endif
#ifndef _WINSOCKAPI_
#define _WINSOCKAPI_
#endif
#define OVERLAPPED_C_INTERFACE 1

/* Calling conventions: x64 has one. */
#define WINAPI
#define WSAAPI
#define CALLBACK
#define APIENTRY
#define __stdcall
#define __cdecl
#define _cdecl
#define __fastcall
#define WINBASEAPI
#define WINSOCK_API_LINKAGE
#define IN
#define OUT
#define OPTIONAL
#define FAR
#define NEAR
#define CONST const
#define UNREFERENCED_PARAMETER(p) ((void)(p))
#define OVL_SYM(name) __asm__("ovl_" #name)

/* ---- base types (minwindef.h, winnt.h, basetsd.h) ---- */
typedef unsigned long long ULONG_PTR, *PULONG_PTR, DWORD_PTR, *PDWORD_PTR, SIZE_T, UINT_PTR;
typedef long long LONG_PTR, INT_PTR, SSIZE_T, LONGLONG;
typedef unsigned long long ULONGLONG, DWORD64, UINT64;
/* Windows' u_long is 32 bits; glibc has its own (64-bit) u_long, fd_set and select. */
#define u_long ovl_u_long
#define fd_set ovl_fd_set
#define select ovl_select
typedef unsigned int DWORD, *PDWORD, *LPDWORD, UINT, *PUINT, ULONG, *PULONG, u_int, u_long;
typedef int BOOL, *PBOOL, *LPBOOL, INT, *PINT, *LPINT, LONG, *PLONG, *LPLONG, HRESULT, NTSTATUS;
typedef unsigned short WORD, *PWORD, *LPWORD, USHORT, *PUSHORT, u_short, ATOM;
typedef short SHORT;
typedef unsigned char BYTE, *PBYTE, *LPBYTE, UCHAR, *PUCHAR, u_char, BOOLEAN;
typedef char CHAR, *PCHAR, *LPSTR, *PSTR;
typedef const char *LPCSTR, *PCSTR;
typedef void VOID_T;
#define VOID void
typedef void *PVOID, *LPVOID, *HANDLE, *PHANDLE, *LPHANDLE, *HMODULE, *HINSTANCE, *HWND, *HLOCAL, *HGLOBAL;
typedef const void *LPCVOID;
typedef float FLOAT;
typedef wchar_t WCHAR, *LPWSTR, *PWSTR;
typedef const wchar_t *LPCWSTR, *PCWSTR;
typedef unsigned int LCID;
typedef LONG_PTR LPARAM, LRESULT;
typedef UINT_PTR WPARAM;
typedef long long __int64;
typedef int __int32;
typedef short __int16;
typedef char __int8;
typedef union _LARGE_INTEGER { struct { DWORD LowPart; LONG HighPart; } u; LONGLONG QuadPart; } LARGE_INTEGER, *PLARGE_INTEGER;

#define TRUE 1
#define FALSE 0
#ifndef NULL
#define NULL ((void *)0)
#endif
#define MAKEWORD(a, b) ((WORD)(((BYTE)(((DWORD_PTR)(a)) & 0xff)) | ((WORD)((BYTE)(((DWORD_PTR)(b)) & 0xff))) << 8))
#define MAKELONG(a, b) ((LONG)(((WORD)(((DWORD_PTR)(a)) & 0xffff)) | ((DWORD)((WORD)(((DWORD_PTR)(b)) & 0xffff))) << 16))
#define LOWORD(l) ((WORD)(((DWORD_PTR)(l)) & 0xffff))
#define HIWORD(l) ((WORD)((((DWORD_PTR)(l)) >> 16) & 0xffff))
#define LOBYTE(w) ((BYTE)(((DWORD_PTR)(w)) & 0xff))
#define HIBYTE(w) ((BYTE)((((DWORD_PTR)(w)) >> 8) & 0xff))
#define INFINITE 0xFFFFFFFF
#define INVALID_HANDLE_VALUE ((HANDLE)(LONG_PTR)-1)
#define MAX_PATH 260
#define CONTAINING_RECORD(address, type, field) ((type *)((char *)(address) - offsetof(type, field)))
#define FIELD_OFFSET(type, field) ((LONG)offsetof(type, field))
#define _countof(a) (sizeof(a) / sizeof((a)[0]))
#define ARRAYSIZE(a) _countof(a)
#ifndef __cplusplus
#ifndef min
#define min(a, b) (((a) < (b)) ? (a) : (b))
#endif
#ifndef max
#define max(a, b) (((a) > (b)) ? (a) : (b))
#endif
#endif
#define ZeroMemory(d, n) memset((d), 0, (n))
#define SecureZeroMemory(d, n) memset((d), 0, (n))
#define FillMemory(d, n, f) memset((d), (f), (n))
#define CopyMemory(d, s, n) memcpy((d), (s), (n))
#define MoveMemory(d, s, n) memmove((d), (s), (n))
#define lstrlenA(s) ((int)strlen(s))
#define lstrcpyA(d, s) strcpy((d), (s))
#define lstrcmpA(a, b) strcmp((a), (b))
#define _stricmp strcasecmp
#define stricmp strcasecmp
#define _strnicmp strncasecmp
#define strnicmp strncasecmp
#define _snprintf snprintf
#define sprintf_s snprintf
#define _TRUNCATE ((size_t)-1)
#define __FUNCTION__ __func__
#define __declspec(x)
#define __forceinline inline __attribute__((always_inline))

/* ---- TCHAR: ANSI builds, or UNICODE builds (wchar_t is 32 bits on Linux; see the README) ---- */
/* Conversions the W functions use (UTF-8 <-> the platform's wchar_t); the wide entry. */
int ovl_wmain_start(int argc, char **argv, int (*entry)(int, wchar_t **));
size_t ovl_wide_to_utf8(const wchar_t *w, char *out, size_t n);
size_t ovl_utf8_to_wide(const char *s, wchar_t *out, size_t n);
#if defined(UNICODE) || defined(_UNICODE)
#ifndef UNICODE
#define UNICODE
#endif
#ifndef _UNICODE
#define _UNICODE
#endif
typedef wchar_t TCHAR, _TCHAR, *LPTSTR, *PTSTR;
typedef const wchar_t *LPCTSTR, *PCTSTR;
#define __T(x) L##x
#define _T(x) __T(x)
#define TEXT(x) __T(x)
/* _tmain: the program's function is renamed ovl_tmain and called, with argv
   widened, by a main defined right before it. */
#define _tmain(...)                                                                              \
    ovl_tmain(__VA_ARGS__);                                                                      \
    int main(int ovl_argc, char **ovl_argv)                                                      \
    {                                                                                            \
        return ovl_wmain_start(ovl_argc, ovl_argv, (int (*)(int, wchar_t **))ovl_tmain);         \
    }                                                                                            \
    int ovl_tmain(__VA_ARGS__)
/* Microsoft's wide printf: %s and %c take wide arguments, %S and %C narrow
   ones (glibc's take narrow and wide). The format is rewritten to glibc's. */
static inline const wchar_t *ovl_ms_format(const wchar_t *f, wchar_t *out, size_t n)
{
    size_t o = 0;
    while (*f && o + 3 < n) {
        if (*f != L'%') {
            out[o++] = *f++;
            continue;
        }
        out[o++] = *f++;
        while (*f && o + 3 < n && wcschr(L"-+ #0123456789.*", *f))
            out[o++] = *f++;
        if (*f == L'h' && (f[1] == L's' || f[1] == L'c')) {
            f++;
            out[o++] = *f++;
        } else if ((*f == L'l' || *f == L'w') && (f[1] == L's' || f[1] == L'c')) {
            f++;
            out[o++] = L'l';
            out[o++] = *f++;
        } else if (*f == L's' || *f == L'c') {
            out[o++] = L'l';
            out[o++] = *f++;
        } else if (*f == L'S' || *f == L'C') {
            out[o++] = (wchar_t)(*f++ == L'S' ? L's' : L'c');
        } else if (*f) {
            out[o++] = *f++;
        }
    }
    out[o] = 0;
    return out;
}
static inline int ovl_vfwprintf_ms(FILE *s, const wchar_t *f, va_list ap)
{
    wchar_t buf[1024];
    return vfwprintf(s, ovl_ms_format(f, buf, 1024), ap);
}
static inline int ovl_fwprintf_ms(FILE *s, const wchar_t *f, ...)
{
    va_list ap;
    int n;
    va_start(ap, f);
    n = ovl_vfwprintf_ms(s, f, ap);
    va_end(ap);
    return n;
}
static inline int ovl_snwprintf_ms(wchar_t *b, size_t c, const wchar_t *f, ...)
{
    wchar_t buf[1024];
    va_list ap;
    int n;
    va_start(ap, f);
    n = vswprintf(b, c, ovl_ms_format(f, buf, 1024), ap);
    va_end(ap);
    return n;
}
#define _tprintf(...) ovl_fwprintf_ms(stdout, __VA_ARGS__)
#define _ftprintf ovl_fwprintf_ms
#define _vtprintf(f, ap) ovl_vfwprintf_ms(stdout, (f), (ap))
#define _stprintf(b, ...) ovl_snwprintf_ms((b), (size_t)0x7fffffff, __VA_ARGS__)
#define _sntprintf ovl_snwprintf_ms
#define _tcslen wcslen
#define _tcscpy wcscpy
#define _tcsncpy wcsncpy
#define _tcscmp wcscmp
#define _tcsicmp wcscasecmp
#define _tstoi(s) ((int)wcstol((s), NULL, 10))
#define _ttoi(s) ((int)wcstol((s), NULL, 10))
#define _wtoi(s) ((int)wcstol((s), NULL, 10))
#define _tcstol wcstol
#define _tcstoul wcstoul
#define _tcschr wcschr
#define _tcsrchr wcsrchr
#define _tcsstr wcsstr
#define _tcscat wcscat
static inline FILE *_wfopen(const wchar_t *path, const wchar_t *mode)
{
    char p[4096], m[32];
    if (ovl_wide_to_utf8(path, p, sizeof(p)) > sizeof(p) || ovl_wide_to_utf8(mode, m, sizeof(m)) > sizeof(m))
        return NULL;
    return fopen(p, m);
}
#define _tfopen _wfopen
#define lstrlenW(s) ((int)wcslen(s))
#define lstrcpyW(d, s) wcscpy((d), (s))
#define lstrcmpW(a, b) wcscmp((a), (b))
#define lstrlen lstrlenW
#define lstrcpy lstrcpyW
#define lstrcmp lstrcmpW
#else
typedef char TCHAR, _TCHAR, *LPTSTR, *PTSTR;
typedef const char *LPCTSTR, *PCTSTR;
#define _T(x) x
#define TEXT(x) x
#define __T(x) x
#define _tmain main
#define _tprintf printf
#define _ftprintf fprintf
#define _vtprintf vprintf
#define _stprintf sprintf
#define _sntprintf snprintf
#define _tcslen strlen
#define _tcscpy strcpy
#define _tcsncpy strncpy
#define _tcscmp strcmp
#define _tcsicmp strcasecmp
#define _tstoi atoi
#define _ttoi atoi
#define _tcstol strtol
#define _tcstoul strtoul
#define _tcschr strchr
#define _tcsrchr strrchr
#define _tcsstr strstr
#define _tcscat strcat
#define _tfopen fopen
#define lstrlen lstrlenA
#define lstrcpy lstrcpyA
#define lstrcmp lstrcmpA
#endif

/* ---- errors (winerror.h) ---- */
#define ERROR_SUCCESS 0L
#define NO_ERROR 0L
#define ERROR_INVALID_FUNCTION 1L
#define ERROR_FILE_NOT_FOUND 2L
#define ERROR_ACCESS_DENIED 5L
#define ERROR_INVALID_HANDLE 6L
#define ERROR_NOT_ENOUGH_MEMORY 8L
#define ERROR_OUTOFMEMORY 14L
#define ERROR_HANDLE_EOF 38L
#define ERROR_NOT_SUPPORTED 50L
#define ERROR_NETNAME_DELETED 64L
#define ERROR_INVALID_PARAMETER 87L
#define ERROR_BROKEN_PIPE 109L
#define ERROR_BUFFER_OVERFLOW 111L
#define ERROR_SEM_TIMEOUT 121L
#define ERROR_INSUFFICIENT_BUFFER 122L
#define ERROR_ALREADY_EXISTS 183L
#define ERROR_MORE_DATA 234L
#define WAIT_TIMEOUT 258L
#define ERROR_ABANDONED_WAIT_0 735L
#define ERROR_OPERATION_ABORTED 995L
#define ERROR_IO_INCOMPLETE 996L
#define ERROR_IO_PENDING 997L
#define ERROR_NOT_FOUND 1168L
#define ERROR_CONNECTION_REFUSED 1225L
#define ERROR_CONNECTION_ABORTED 1236L
#define ERROR_PORT_UNREACHABLE 1234L

/* NTSTATUS values a program may find in OVERLAPPED.Internal */
#define STATUS_SUCCESS ((NTSTATUS)0x00000000L)
#define STATUS_WAIT_0 ((DWORD)0x00000000L)
#define STATUS_ABANDONED_WAIT_0 ((DWORD)0x00000080L)
#define STATUS_USER_APC ((DWORD)0x000000C0L)
#define STATUS_TIMEOUT ((DWORD)0x00000102L)
#define STATUS_PENDING ((DWORD)0x00000103L)
#define STATUS_BUFFER_OVERFLOW ((NTSTATUS)0x80000005L)
#define STATUS_INVALID_HANDLE ((NTSTATUS)0xC0000008L)
#define STATUS_INVALID_PARAMETER ((NTSTATUS)0xC000000DL)
#define STATUS_CANCELLED ((NTSTATUS)0xC0000120L)
#define STATUS_LOCAL_DISCONNECT ((NTSTATUS)0xC000013BL)
#define STATUS_REMOTE_DISCONNECT ((NTSTATUS)0xC000013CL)
#define STATUS_CONNECTION_REFUSED ((NTSTATUS)0xC0000236L)
#define STATUS_CONNECTION_RESET ((NTSTATUS)0xC000020DL)
#define STATUS_CONNECTION_ABORTED ((NTSTATUS)0xC0000241L)
#define STATUS_IO_TIMEOUT ((NTSTATUS)0xC00000B5L)

/* Winsock errors */
#define WSABASEERR 10000
#define WSAEINTR 10004L
#define WSAEBADF 10009L
#define WSAEACCES 10013L
#define WSAEFAULT 10014L
#define WSAEINVAL 10022L
#define WSAEMFILE 10024L
#define WSAEWOULDBLOCK 10035L
#define WSAEINPROGRESS 10036L
#define WSAEALREADY 10037L
#define WSAENOTSOCK 10038L
#define WSAEDESTADDRREQ 10039L
#define WSAEMSGSIZE 10040L
#define WSAEPROTOTYPE 10041L
#define WSAENOPROTOOPT 10042L
#define WSAEPROTONOSUPPORT 10043L
#define WSAESOCKTNOSUPPORT 10044L
#define WSAEOPNOTSUPP 10045L
#define WSAEPFNOSUPPORT 10046L
#define WSAEAFNOSUPPORT 10047L
#define WSAEADDRINUSE 10048L
#define WSAEADDRNOTAVAIL 10049L
#define WSAENETDOWN 10050L
#define WSAENETUNREACH 10051L
#define WSAENETRESET 10052L
#define WSAECONNABORTED 10053L
#define WSAECONNRESET 10054L
#define WSAENOBUFS 10055L
#define WSAEISCONN 10056L
#define WSAENOTCONN 10057L
#define WSAESHUTDOWN 10058L
#define WSAETOOMANYREFS 10059L
#define WSAETIMEDOUT 10060L
#define WSAECONNREFUSED 10061L
#define WSAELOOP 10062L
#define WSAENAMETOOLONG 10063L
#define WSAEHOSTDOWN 10064L
#define WSAEHOSTUNREACH 10065L
#define WSAENOTEMPTY 10066L
#define WSAEPROCLIM 10067L
#define WSASYSNOTREADY 10091L
#define WSAVERNOTSUPPORTED 10092L
#define WSANOTINITIALISED 10093L
#define WSAEDISCON 10101L
#define WSAENOMORE 10102L
#define WSAECANCELLED 10103L
#define WSA_E_NO_MORE 10110L
#define WSA_E_CANCELLED 10111L
#define WSAHOST_NOT_FOUND 11001L
#define WSATRY_AGAIN 11002L
#define WSANO_RECOVERY 11003L
#define WSANO_DATA 11004L
#define WSA_IO_PENDING (ERROR_IO_PENDING)
#define WSA_IO_INCOMPLETE (ERROR_IO_INCOMPLETE)
#define WSA_INVALID_HANDLE (ERROR_INVALID_HANDLE)
#define WSA_INVALID_PARAMETER (ERROR_INVALID_PARAMETER)
#define WSA_NOT_ENOUGH_MEMORY (ERROR_NOT_ENOUGH_MEMORY)
#define WSA_OPERATION_ABORTED (ERROR_OPERATION_ABORTED)

DWORD GetLastError(void);
void SetLastError(DWORD dwErrCode);

/* ---- OVERLAPPED (minwinbase.h), Windows x64 layout: 32 bytes ---- */
typedef struct _OVERLAPPED {
    ULONG_PTR Internal;     /* status: STATUS_PENDING, then an NTSTATUS */
    ULONG_PTR InternalHigh; /* bytes transferred, written at completion */
    union {
        struct {
            DWORD Offset;
            DWORD OffsetHigh;
        };
        PVOID Pointer;
    };
    HANDLE hEvent;
} OVERLAPPED, *LPOVERLAPPED;

typedef struct _OVERLAPPED_ENTRY {
    ULONG_PTR lpCompletionKey;
    LPOVERLAPPED lpOverlapped;
    ULONG_PTR Internal;
    DWORD dwNumberOfBytesTransferred;
} OVERLAPPED_ENTRY, *LPOVERLAPPED_ENTRY;

BOOL ovl_has_overlapped_io_completed(LPOVERLAPPED lpOverlapped);
#define HasOverlappedIoCompleted(lpOverlapped) (ovl_has_overlapped_io_completed(lpOverlapped))

typedef struct _SECURITY_ATTRIBUTES {
    DWORD nLength;
    LPVOID lpSecurityDescriptor;
    BOOL bInheritHandle;
} SECURITY_ATTRIBUTES, *PSECURITY_ATTRIBUTES, *LPSECURITY_ATTRIBUTES;

/* ---- handles, waits, threads, APCs (handleapi.h, synchapi.h, processthreadsapi.h) ---- */
#define WAIT_OBJECT_0 ((DWORD)0x00000000L)
#define WAIT_ABANDONED ((DWORD)0x00000080L)
#define WAIT_ABANDONED_0 ((DWORD)0x00000080L)
#define WAIT_IO_COMPLETION ((DWORD)0x000000C0L)
#define WAIT_FAILED ((DWORD)0xFFFFFFFF)
#define MAXIMUM_WAIT_OBJECTS 64
#define CREATE_SUSPENDED 0x00000004
#define STILL_ACTIVE 259

BOOL CloseHandle(HANDLE hObject);
DWORD WaitForSingleObject(HANDLE hHandle, DWORD dwMilliseconds);
DWORD WaitForSingleObjectEx(HANDLE hHandle, DWORD dwMilliseconds, BOOL bAlertable);
/* Beyond Windows: WaitForMultipleObjects(Ex) takes up to 128 handles (Windows:
 * MAXIMUM_WAIT_OBJECTS, 64, which stays 64). The limit is where answers would
 * collide: WAIT_OBJECT_0 + 128 == WAIT_ABANDONED_0. More than 128 fails with
 * WAIT_FAILED and GetLastError() == ERROR_INVALID_PARAMETER, as Windows fails
 * more than 64. */
DWORD WaitForMultipleObjects(DWORD nCount, const HANDLE *lpHandles, BOOL bWaitAll, DWORD dwMilliseconds);
DWORD WaitForMultipleObjectsEx(DWORD nCount, const HANDLE *lpHandles, BOOL bWaitAll, DWORD dwMilliseconds, BOOL bAlertable);
/* Sleep, SleepEx and SwitchToThread also settle the calling thread's finished
 * overlapped records (Internal, InternalHigh, the received bytes), so a loop
 * `while (ov.Internal == STATUS_PENDING) Sleep(n);` ends. Without a call into
 * the library a record does not change: do not spin on Internal alone. */
void Sleep(DWORD dwMilliseconds);
DWORD SleepEx(DWORD dwMilliseconds, BOOL bAlertable);
BOOL SwitchToThread(void);
HANDLE CreateEventA(LPSECURITY_ATTRIBUTES lpEventAttributes, BOOL bManualReset, BOOL bInitialState, LPCSTR lpName);
#define CreateEvent CreateEventA
BOOL SetEvent(HANDLE hEvent);
BOOL ResetEvent(HANDLE hEvent);

typedef DWORD (WINAPI *LPTHREAD_START_ROUTINE)(LPVOID lpThreadParameter);
typedef LPTHREAD_START_ROUTINE PTHREAD_START_ROUTINE;
HANDLE CreateThread(LPSECURITY_ATTRIBUTES lpThreadAttributes, SIZE_T dwStackSize, LPTHREAD_START_ROUTINE lpStartAddress,
                    LPVOID lpParameter, DWORD dwCreationFlags, LPDWORD lpThreadId);
void ExitThread(DWORD dwExitCode) __attribute__((noreturn));
BOOL GetExitCodeThread(HANDLE hThread, LPDWORD lpExitCode);
DWORD ResumeThread(HANDLE hThread);
HANDLE GetCurrentThread(void);
DWORD GetCurrentThreadId(void);
DWORD GetCurrentProcessId(void);
void ExitProcess(UINT uExitCode) __attribute__((noreturn));
typedef void (WINAPI *PAPCFUNC)(ULONG_PTR Parameter);
DWORD QueueUserAPC(PAPCFUNC pfnAPC, HANDLE hThread, ULONG_PTR dwData);

/* process.h (CRT threads) */
uintptr_t _beginthreadex(void *security, unsigned stack_size, unsigned (__stdcall *start_address)(void *),
                         void *arglist, unsigned initflag, unsigned *thrdaddr);
uintptr_t _beginthread(void (__cdecl *start_address)(void *), unsigned stack_size, void *arglist);
void _endthreadex(unsigned retval) __attribute__((noreturn));
void _endthread(void) __attribute__((noreturn));

/* CRITICAL_SECTION: 40 bytes as on Windows x64; the lock lives behind DebugInfo. */
typedef struct _RTL_CRITICAL_SECTION {
    PVOID DebugInfo;
    LONG LockCount;
    LONG RecursionCount;
    HANDLE OwningThread;
    HANDLE LockSemaphore;
    ULONG_PTR SpinCount;
} CRITICAL_SECTION, *LPCRITICAL_SECTION, *PCRITICAL_SECTION;
void InitializeCriticalSection(LPCRITICAL_SECTION lpCriticalSection);
BOOL InitializeCriticalSectionAndSpinCount(LPCRITICAL_SECTION lpCriticalSection, DWORD dwSpinCount);
void EnterCriticalSection(LPCRITICAL_SECTION lpCriticalSection);
BOOL TryEnterCriticalSection(LPCRITICAL_SECTION lpCriticalSection);
void LeaveCriticalSection(LPCRITICAL_SECTION lpCriticalSection);
void DeleteCriticalSection(LPCRITICAL_SECTION lpCriticalSection);

/* Interlocked*: full barriers, as on Windows. */
static inline LONG InterlockedIncrement(LONG volatile *p) { return __atomic_add_fetch(p, 1, __ATOMIC_SEQ_CST); }
static inline LONG InterlockedDecrement(LONG volatile *p) { return __atomic_sub_fetch(p, 1, __ATOMIC_SEQ_CST); }
static inline LONG InterlockedExchange(LONG volatile *p, LONG v) { return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST); }
static inline LONG InterlockedExchangeAdd(LONG volatile *p, LONG v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }
static inline LONG InterlockedCompareExchange(LONG volatile *p, LONG x, LONG c) { __atomic_compare_exchange_n(p, &c, x, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); return c; }
static inline LONGLONG InterlockedIncrement64(LONGLONG volatile *p) { return __atomic_add_fetch(p, 1, __ATOMIC_SEQ_CST); }
static inline LONGLONG InterlockedDecrement64(LONGLONG volatile *p) { return __atomic_sub_fetch(p, 1, __ATOMIC_SEQ_CST); }
static inline LONGLONG InterlockedExchange64(LONGLONG volatile *p, LONGLONG v) { return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST); }
static inline LONGLONG InterlockedExchangeAdd64(LONGLONG volatile *p, LONGLONG v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }
static inline LONGLONG InterlockedCompareExchange64(LONGLONG volatile *p, LONGLONG x, LONGLONG c) { __atomic_compare_exchange_n(p, &c, x, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); return c; }
static inline PVOID InterlockedExchangePointer(PVOID volatile *p, PVOID v) { return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST); }
static inline PVOID InterlockedCompareExchangePointer(PVOID volatile *p, PVOID x, PVOID c) { __atomic_compare_exchange_n(p, &c, x, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); return c; }
#define MemoryBarrier() __atomic_thread_fence(__ATOMIC_SEQ_CST)

/* ---- completion ports (ioapiset.h) ---- */
HANDLE CreateIoCompletionPort(HANDLE FileHandle, HANDLE ExistingCompletionPort, ULONG_PTR CompletionKey, DWORD NumberOfConcurrentThreads);
BOOL GetQueuedCompletionStatus(HANDLE CompletionPort, LPDWORD lpNumberOfBytesTransferred, PULONG_PTR lpCompletionKey,
                               LPOVERLAPPED *lpOverlapped, DWORD dwMilliseconds);
BOOL GetQueuedCompletionStatusEx(HANDLE CompletionPort, LPOVERLAPPED_ENTRY lpCompletionPortEntries, ULONG ulCount,
                                 PULONG ulNumEntriesRemoved, DWORD dwMilliseconds, BOOL fAlertable);
BOOL PostQueuedCompletionStatus(HANDLE CompletionPort, DWORD dwNumberOfBytesTransferred, ULONG_PTR dwCompletionKey, LPOVERLAPPED lpOverlapped);
BOOL CancelIo(HANDLE hFile);
BOOL CancelIoEx(HANDLE hFile, LPOVERLAPPED lpOverlapped);
BOOL GetOverlappedResult(HANDLE hFile, LPOVERLAPPED lpOverlapped, LPDWORD lpNumberOfBytesTransferred, BOOL bWait);
#define FILE_SKIP_COMPLETION_PORT_ON_SUCCESS 0x1
#define FILE_SKIP_SET_EVENT_ON_HANDLE 0x2
BOOL SetFileCompletionNotificationModes(HANDLE FileHandle, UCHAR Flags);

/* ---- system information, time ---- */
typedef struct _SYSTEM_INFO {
    union {
        DWORD dwOemId;
        struct {
            WORD wProcessorArchitecture;
            WORD wReserved;
        };
    };
    DWORD dwPageSize;
    LPVOID lpMinimumApplicationAddress;
    LPVOID lpMaximumApplicationAddress;
    DWORD_PTR dwActiveProcessorMask;
    DWORD dwNumberOfProcessors;
    DWORD dwProcessorType;
    DWORD dwAllocationGranularity;
    WORD wProcessorLevel;
    WORD wProcessorRevision;
} SYSTEM_INFO, *LPSYSTEM_INFO;
#define PROCESSOR_ARCHITECTURE_AMD64 9
#define PROCESSOR_ARCHITECTURE_ARM64 12
void GetSystemInfo(LPSYSTEM_INFO lpSystemInfo);
DWORD GetTickCount(void);
ULONGLONG GetTickCount64(void);
BOOL QueryPerformanceCounter(LARGE_INTEGER *lpPerformanceCount);
BOOL QueryPerformanceFrequency(LARGE_INTEGER *lpFrequency);

/* ---- heaps and local memory (heapapi.h, winbase.h) ---- */
#define HEAP_ZERO_MEMORY 0x00000008
#define HEAP_NO_SERIALIZE 0x00000001
#define LMEM_FIXED 0x0000
#define LMEM_ZEROINIT 0x0040
#define LPTR (LMEM_FIXED | LMEM_ZEROINIT)
#define GMEM_FIXED 0x0000
#define GMEM_ZEROINIT 0x0040
#define GPTR (GMEM_FIXED | GMEM_ZEROINIT)
HANDLE GetProcessHeap(void);
LPVOID HeapAlloc(HANDLE hHeap, DWORD dwFlags, SIZE_T dwBytes);
LPVOID HeapReAlloc(HANDLE hHeap, DWORD dwFlags, LPVOID lpMem, SIZE_T dwBytes);
BOOL HeapFree(HANDLE hHeap, DWORD dwFlags, LPVOID lpMem);
SIZE_T HeapSize(HANDLE hHeap, DWORD dwFlags, LPCVOID lpMem);
HLOCAL LocalAlloc(UINT uFlags, SIZE_T uBytes);
HLOCAL LocalFree(HLOCAL hMem);
HGLOBAL GlobalAlloc(UINT uFlags, SIZE_T dwBytes);
HGLOBAL GlobalFree(HGLOBAL hMem);

/* ---- FormatMessage (winbase.h): system texts for Winsock and Win32 codes ---- */
#define FORMAT_MESSAGE_ALLOCATE_BUFFER 0x00000100
#define FORMAT_MESSAGE_IGNORE_INSERTS 0x00000200
#define FORMAT_MESSAGE_FROM_STRING 0x00000400
#define FORMAT_MESSAGE_FROM_HMODULE 0x00000800
#define FORMAT_MESSAGE_FROM_SYSTEM 0x00001000
#define FORMAT_MESSAGE_ARGUMENT_ARRAY 0x00002000
#define FORMAT_MESSAGE_MAX_WIDTH_MASK 0x000000FF
#define LANG_NEUTRAL 0x00
#define LANG_ENGLISH 0x09
#define SUBLANG_NEUTRAL 0x00
#define SUBLANG_DEFAULT 0x01
#define SUBLANG_ENGLISH_US 0x01
#define MAKELANGID(p, s) ((((WORD)(s)) << 10) | (WORD)(p))
DWORD FormatMessageA(DWORD dwFlags, LPCVOID lpSource, DWORD dwMessageId, DWORD dwLanguageId, LPSTR lpBuffer, DWORD nSize, va_list *Arguments);
#define FormatMessage FormatMessageA

/* ---- console (wincon.h): SetConsoleCtrlHandler on SIGINT / SIGTERM ---- */
#define CTRL_C_EVENT 0
#define CTRL_BREAK_EVENT 1
#define CTRL_CLOSE_EVENT 2
#define CTRL_LOGOFF_EVENT 5
#define CTRL_SHUTDOWN_EVENT 6
typedef BOOL (WINAPI *PHANDLER_ROUTINE)(DWORD CtrlType);
BOOL SetConsoleCtrlHandler(PHANDLER_ROUTINE HandlerRoutine, BOOL Add);
BOOL GenerateConsoleCtrlEvent(DWORD dwCtrlEvent, DWORD dwProcessGroupId);
#define STD_INPUT_HANDLE ((DWORD)-10)
#define STD_OUTPUT_HANDLE ((DWORD)-11)
#define STD_ERROR_HANDLE ((DWORD)-12)
HANDLE GetStdHandle(DWORD nStdHandle);
BOOL WriteConsoleA(HANDLE hConsoleOutput, const void *lpBuffer, DWORD nNumberOfCharsToWrite, LPDWORD lpNumberOfCharsWritten,
                   LPVOID lpReserved);
#define WriteConsole WriteConsoleA
BOOL WriteFile(HANDLE hFile, LPCVOID lpBuffer, DWORD nNumberOfBytesToWrite, LPDWORD lpNumberOfBytesWritten, LPOVERLAPPED lpOverlapped);

/* ---- strsafe.h (ANSI): the counted string functions, on vsnprintf ---- */
#ifndef S_OK
#define S_OK ((HRESULT)0L)
#endif
#define STRSAFE_E_INSUFFICIENT_BUFFER ((HRESULT)0x8007007AL)
#define STRSAFE_E_INVALID_PARAMETER ((HRESULT)0x80070057L)
#define SUCCEEDED(hr) (((HRESULT)(hr)) >= 0)
#define FAILED(hr) (((HRESULT)(hr)) < 0)
static inline HRESULT StringCchVPrintfA(char *dst, size_t cch, const char *fmt, va_list args)
{
    int n;
    if (cch == 0 || dst == NULL)
        return STRSAFE_E_INVALID_PARAMETER;
    n = vsnprintf(dst, cch, fmt, args);
    if (n < 0 || (size_t)n >= cch) {
        dst[cch - 1] = 0;
        return STRSAFE_E_INSUFFICIENT_BUFFER;
    }
    return S_OK;
}
static inline HRESULT StringCchPrintfA(char *dst, size_t cch, const char *fmt, ...)
{
    HRESULT hr;
    va_list args;
    va_start(args, fmt);
    hr = StringCchVPrintfA(dst, cch, fmt, args);
    va_end(args);
    return hr;
}
static inline HRESULT StringCchCopyNA(char *dst, size_t cch, const char *src, size_t n)
{
    size_t i;
    if (cch == 0 || dst == NULL)
        return STRSAFE_E_INVALID_PARAMETER;
    for (i = 0; i < n && src[i] && i < cch - 1; i++)
        dst[i] = src[i];
    dst[i] = 0;
    return (i < n && src[i] && i == cch - 1) ? STRSAFE_E_INSUFFICIENT_BUFFER : S_OK;
}
static inline HRESULT StringCchCopyA(char *dst, size_t cch, const char *src) { return StringCchCopyNA(dst, cch, src, (size_t)-1); }
static inline HRESULT StringCchCatA(char *dst, size_t cch, const char *src)
{
    size_t len = strnlen(dst, cch);
    if (len == cch)
        return STRSAFE_E_INVALID_PARAMETER;
    return StringCchCopyA(dst + len, cch - len, src);
}
static inline HRESULT StringCchLengthA(const char *s, size_t max, size_t *len)
{
    size_t n = s ? strnlen(s, max) : max;
    if (n == max) {
        if (len)
            *len = 0;
        return STRSAFE_E_INVALID_PARAMETER;
    }
    if (len)
        *len = n;
    return S_OK;
}
/* The Cb forms count bytes; with char, bytes are characters. */
#define StringCbVPrintfA StringCchVPrintfA
#define StringCbPrintfA StringCchPrintfA
#define StringCbCopyA StringCchCopyA
#define StringCbCopyNA StringCchCopyNA
#define StringCbCatA StringCchCatA
#define StringCbLengthA StringCchLengthA
#define StringCchVPrintf StringCchVPrintfA
#define StringCchPrintf StringCchPrintfA
#define StringCchCopy StringCchCopyA
#define StringCchCopyN StringCchCopyNA
#define StringCchCat StringCchCatA
#define StringCchLength StringCchLengthA
#define StringCbVPrintf StringCbVPrintfA
#define StringCbPrintf StringCbPrintfA
#define StringCbCopy StringCbCopyA
#define StringCbCopyN StringCbCopyNA
#define StringCbCat StringCbCatA
#define StringCbLength StringCbLengthA

/* ---- MessageBox on a console: prints to stderr ---- */
#define MB_OK 0x00000000L
#define MB_ICONERROR 0x00000010L
#define MB_ICONHAND 0x00000010L
#define MB_ICONWARNING 0x00000030L
#define MB_ICONINFORMATION 0x00000040L
#define IDOK 1
int MessageBoxA(HWND hWnd, LPCSTR lpText, LPCSTR lpCaption, UINT uType);
#define MessageBox MessageBoxA
void OutputDebugStringA(LPCSTR lpOutputString);
#define OutputDebugString OutputDebugStringA
void DebugBreak(void);

/* ---- GUID (guiddef.h) ---- */
typedef struct _GUID {
    unsigned int Data1;
    unsigned short Data2;
    unsigned short Data3;
    unsigned char Data4[8];
} GUID, *LPGUID;
typedef const GUID *REFGUID;

/* ============================ Winsock 2 ============================ */
typedef UINT_PTR SOCKET;
#define INVALID_SOCKET ((SOCKET)(~0))
#define SOCKET_ERROR (-1)
typedef HANDLE WSAEVENT, *LPWSAEVENT;
typedef OVERLAPPED WSAOVERLAPPED, *LPWSAOVERLAPPED;
#define WSA_INVALID_EVENT ((WSAEVENT)NULL)
#define WSA_MAXIMUM_WAIT_EVENTS (MAXIMUM_WAIT_OBJECTS)
#define WSA_WAIT_FAILED (WAIT_FAILED)
#define WSA_WAIT_EVENT_0 (WAIT_OBJECT_0)
#define WSA_WAIT_IO_COMPLETION (WAIT_IO_COMPLETION)
#define WSA_WAIT_TIMEOUT (WAIT_TIMEOUT)
#define WSA_INFINITE (INFINITE)
#define WSADESCRIPTION_LEN 256
#define WSASYS_STATUS_LEN 128

typedef struct WSAData {
    WORD wVersion;
    WORD wHighVersion;
    unsigned short iMaxSockets;
    unsigned short iMaxUdpDg;
    char *lpVendorInfo;
    char szDescription[WSADESCRIPTION_LEN + 1];
    char szSystemStatus[WSASYS_STATUS_LEN + 1];
} WSADATA, *LPWSADATA;

typedef unsigned short ADDRESS_FAMILY;
#define AF_UNSPEC 0
#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 23
#define AF_MAX 38
#define PF_UNSPEC AF_UNSPEC
#define PF_INET AF_INET
#define PF_INET6 AF_INET6
#define SOCK_STREAM 1
#define SOCK_DGRAM 2
#define SOCK_RAW 3
#define SOCK_RDM 4
#define SOCK_SEQPACKET 5
#define IPPROTO_IP 0
#define IPPROTO_ICMP 1
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define IPPROTO_IPV6 41
#define IPPROTO_ICMPV6 58
#define IPPROTO_RAW 255
#define INADDR_ANY ((ULONG)0x00000000)
#define INADDR_LOOPBACK 0x7f000001
#define INADDR_BROADCAST ((ULONG)0xffffffff)
#define INADDR_NONE 0xffffffff
#define SOMAXCONN 0x7fffffff
#define SOMAXCONN_HINT(b) (-(b))

/* in_addr with Windows' S_un union; s_addr works as on Windows. */
typedef struct in_addr {
    union {
        struct { UCHAR s_b1, s_b2, s_b3, s_b4; } S_un_b;
        struct { USHORT s_w1, s_w2; } S_un_w;
        ULONG S_addr;
    } S_un;
} IN_ADDR, *PIN_ADDR, *LPIN_ADDR;
#define s_addr S_un.S_addr
#define s_net S_un.S_un_b.s_b1
#define s_imp S_un.S_un_w.s_w2
#define s_impno S_un.S_un_b.s_b4
#define s_lh S_un.S_un_b.s_b3

typedef struct sockaddr {
    ADDRESS_FAMILY sa_family;
    CHAR sa_data[14];
} SOCKADDR, *PSOCKADDR, *LPSOCKADDR;

typedef struct sockaddr_in {
    ADDRESS_FAMILY sin_family;
    USHORT sin_port;
    IN_ADDR sin_addr;
    CHAR sin_zero[8];
} SOCKADDR_IN, *PSOCKADDR_IN, *LPSOCKADDR_IN;

typedef struct in6_addr {
    union {
        UCHAR Byte[16];
        USHORT Word[8];
    } u;
} IN6_ADDR, *PIN6_ADDR, *LPIN6_ADDR;
#define in_addr6 in6_addr
#define s6_addr u.Byte
#define s6_words u.Word

typedef struct sockaddr_in6 {
    ADDRESS_FAMILY sin6_family;
    USHORT sin6_port;
    ULONG sin6_flowinfo;
    IN6_ADDR sin6_addr;
    ULONG sin6_scope_id;
} SOCKADDR_IN6, *PSOCKADDR_IN6, *LPSOCKADDR_IN6, SOCKADDR_IN6_LH;

typedef struct sockaddr_storage {
    ADDRESS_FAMILY ss_family;
    CHAR __ss_pad1[6];
    __int64 __ss_align;
    CHAR __ss_pad2[112];
} SOCKADDR_STORAGE, *PSOCKADDR_STORAGE, *LPSOCKADDR_STORAGE, SOCKADDR_STORAGE_LH;

typedef union _SOCKADDR_INET {
    SOCKADDR_IN Ipv4;
    SOCKADDR_IN6 Ipv6;
    ADDRESS_FAMILY si_family;
} SOCKADDR_INET;

typedef struct _SOCKET_ADDRESS {
    LPSOCKADDR lpSockaddr;
    INT iSockaddrLength;
} SOCKET_ADDRESS, *PSOCKET_ADDRESS, *LPSOCKET_ADDRESS;

extern const IN6_ADDR in6addr_any;
extern const IN6_ADDR in6addr_loopback;
#define IN6ADDR_ANY_INIT {{{0}}}
#define IN6ADDR_LOOPBACK_INIT {{{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}}}
static inline BOOL IN6_ADDR_EQUAL(const IN6_ADDR *a, const IN6_ADDR *b) { return memcmp(a, b, sizeof(IN6_ADDR)) == 0; }
static inline BOOL IN6_IS_ADDR_UNSPECIFIED(const IN6_ADDR *a) { static const IN6_ADDR z = {{{0}}}; return IN6_ADDR_EQUAL(a, &z); }

typedef int socklen_t;

typedef struct _WSABUF {
    ULONG len;     /* the length of the buffer */
    CHAR *buf;     /* the pointer to the buffer */
} WSABUF, *LPWSABUF;

typedef struct _WSAMSG {
    LPSOCKADDR name;
    INT namelen;
    LPWSABUF lpBuffers;
    ULONG dwBufferCount;
    WSABUF Control;
    ULONG dwFlags;
} WSAMSG, *PWSAMSG, *LPWSAMSG;

typedef struct _WSACMSGHDR {
    SIZE_T cmsg_len;
    INT cmsg_level;
    INT cmsg_type;
} WSACMSGHDR, *PWSACMSGHDR, *LPWSACMSGHDR;
#define WSA_CMSGHDR_ALIGN(length) (((length) + 7) & ~(SIZE_T)7)
#define WSA_CMSGDATA_ALIGN(length) (((length) + 7) & ~(SIZE_T)7)
#define WSA_CMSG_FIRSTHDR(msg) (((msg)->Control.len >= sizeof(WSACMSGHDR)) ? (LPWSACMSGHDR)(msg)->Control.buf : (LPWSACMSGHDR)NULL)
#define WSA_CMSG_NXTHDR(msg, cmsg) \
    (!(cmsg) ? WSA_CMSG_FIRSTHDR(msg) \
             : ((((PUCHAR)(cmsg) + WSA_CMSGHDR_ALIGN((cmsg)->cmsg_len) + sizeof(WSACMSGHDR)) > (PUCHAR)((msg)->Control.buf) + (msg)->Control.len) \
                    ? (LPWSACMSGHDR)NULL \
                    : (LPWSACMSGHDR)((PUCHAR)(cmsg) + WSA_CMSGHDR_ALIGN((cmsg)->cmsg_len))))
#define WSA_CMSG_DATA(cmsg) ((PUCHAR)(cmsg) + WSA_CMSGDATA_ALIGN(sizeof(WSACMSGHDR)))
#define WSA_CMSG_SPACE(length) (WSA_CMSGDATA_ALIGN(sizeof(WSACMSGHDR) + WSA_CMSGHDR_ALIGN(length)))
#define WSA_CMSG_LEN(length) (WSA_CMSGDATA_ALIGN(sizeof(WSACMSGHDR)) + length)

struct linger {
    u_short l_onoff;
    u_short l_linger;
};
typedef struct linger LINGER, *PLINGER, *LPLINGER;

/* struct timeval: glibc's (16 bytes; Windows' is 8): programs only fill its fields. */

/* Winsock's fd_set: a count and up to FD_SETSIZE (64) sockets. */
#undef FD_SETSIZE
#define FD_SETSIZE 64
typedef struct fd_set {
    u_int fd_count;
    SOCKET fd_array[FD_SETSIZE];
} fd_set, FD_SET, *PFD_SET, *LPFD_SET;
int __WSAFDIsSet(SOCKET fd, fd_set *set);
#undef FD_CLR
#undef FD_SET
#undef FD_ZERO
#undef FD_ISSET
#define FD_CLR(fd, set) do { u_int __i; for (__i = 0; __i < ((fd_set *)(set))->fd_count; __i++) { \
    if (((fd_set *)(set))->fd_array[__i] == (fd)) { while (__i < ((fd_set *)(set))->fd_count - 1) { \
    ((fd_set *)(set))->fd_array[__i] = ((fd_set *)(set))->fd_array[__i + 1]; __i++; } \
    ((fd_set *)(set))->fd_count--; break; } } } while (0)
#define FD_SET(fd, set) do { u_int __i; for (__i = 0; __i < ((fd_set *)(set))->fd_count; __i++) { \
    if (((fd_set *)(set))->fd_array[__i] == (fd)) break; } \
    if (__i == ((fd_set *)(set))->fd_count && ((fd_set *)(set))->fd_count < FD_SETSIZE) { \
    ((fd_set *)(set))->fd_array[__i] = (fd); ((fd_set *)(set))->fd_count++; } } while (0)
#define FD_ZERO(set) (((fd_set *)(set))->fd_count = 0)
#define FD_ISSET(fd, set) __WSAFDIsSet((SOCKET)(fd), (fd_set *)(set))

/* socket options and flags (Windows values) */
#define SOL_SOCKET 0xffff
#define SO_DEBUG 0x0001
#define SO_ACCEPTCONN 0x0002
#define SO_REUSEADDR 0x0004
#define SO_KEEPALIVE 0x0008
#define SO_DONTROUTE 0x0010
#define SO_BROADCAST 0x0020
#define SO_USELOOPBACK 0x0040
#define SO_LINGER 0x0080
#define SO_OOBINLINE 0x0100
#define SO_DONTLINGER ((int)(~SO_LINGER))
#define SO_EXCLUSIVEADDRUSE ((int)(~SO_REUSEADDR))
#define SO_SNDBUF 0x1001
#define SO_RCVBUF 0x1002
#define SO_SNDLOWAT 0x1003
#define SO_RCVLOWAT 0x1004
#define SO_SNDTIMEO 0x1005
#define SO_RCVTIMEO 0x1006
#define SO_ERROR 0x1007
#define SO_TYPE 0x1008
#define TCP_NODELAY 0x0001
#define IP_TTL 4
#define IP_MULTICAST_IF 9
#define IP_MULTICAST_TTL 10
#define IP_MULTICAST_LOOP 11
#define IP_ADD_MEMBERSHIP 12
#define IP_DROP_MEMBERSHIP 13
#define IP_PKTINFO 19
#define IPV6_UNICAST_HOPS 4
#define IPV6_MULTICAST_IF 9
#define IPV6_MULTICAST_HOPS 10
#define IPV6_MULTICAST_LOOP 11
#define IPV6_ADD_MEMBERSHIP 12
#define IPV6_JOIN_GROUP IPV6_ADD_MEMBERSHIP
#define IPV6_DROP_MEMBERSHIP 13
#define IPV6_LEAVE_GROUP IPV6_DROP_MEMBERSHIP
#define IPV6_PKTINFO 19
#define IPV6_V6ONLY 27
#define MSG_OOB 0x1
#define MSG_PEEK 0x2
#define MSG_DONTROUTE 0x4
#define MSG_WAITALL 0x8
#define MSG_PUSH_IMMEDIATE 0x20
#define MSG_PARTIAL 0x8000
#define MSG_TRUNC 0x0100
#define MSG_CTRUNC 0x0200
#define MSG_BCAST 0x0400
#define MSG_MCAST 0x0800
#define SD_RECEIVE 0x00
#define SD_SEND 0x01
#define SD_BOTH 0x02
#define WSA_FLAG_OVERLAPPED 0x01
#define WSA_FLAG_NO_HANDLE_INHERIT 0x80
#define IOCPARM_MASK 0x7f
#define IOC_VOID 0x20000000
#define IOC_OUT 0x40000000
#define IOC_IN 0x80000000
#define IOC_INOUT (IOC_IN | IOC_OUT)
#define IOC_WS2 0x08000000
#define _WSAIO(x, y) (IOC_VOID | (x) | (y))
#define _WSAIOR(x, y) (IOC_OUT | (x) | (y))
#define _WSAIOW(x, y) (IOC_IN | (x) | (y))
#define _WSAIORW(x, y) (IOC_INOUT | (x) | (y))
#define FIONREAD 0x4004667FL
#define FIONBIO 0x8004667EL
#define SIOCATMARK 0x40047307L
#define SIO_GET_EXTENSION_FUNCTION_POINTER _WSAIORW(IOC_WS2, 6)
#define SIO_ADDRESS_LIST_QUERY _WSAIOR(IOC_WS2, 22)
#define SIO_ADDRESS_LIST_CHANGE _WSAIO(IOC_WS2, 23)
#define SIO_ROUTING_INTERFACE_QUERY _WSAIORW(IOC_WS2, 20)
#define SIO_KEEPALIVE_VALS _WSAIOW(IOC_VENDOR, 4)
#define SIO_ROUTING_INTERFACE_CHANGE _WSAIOW(IOC_WS2, 21)
#define SIO_BASE_HANDLE _WSAIOR(IOC_WS2, 34)
#define SIO_FLUSH _WSAIO(IOC_WS2, 4)
#define SIO_GET_INTERFACE_LIST 0x4004747FL
#define IFF_UP 0x00000001
#define IFF_BROADCAST 0x00000002
#define IFF_LOOPBACK 0x00000004
#define IFF_POINTTOPOINT 0x00000008
#define IFF_MULTICAST 0x00000010

typedef struct _SOCKET_ADDRESS_LIST {
    INT iAddressCount;
    SOCKET_ADDRESS Address[1];
} SOCKET_ADDRESS_LIST, *PSOCKET_ADDRESS_LIST, *LPSOCKET_ADDRESS_LIST;
#define SIZEOF_SOCKET_ADDRESS_LIST(AddressCount) \
    (FIELD_OFFSET(SOCKET_ADDRESS_LIST, Address) + (AddressCount) * sizeof(SOCKET_ADDRESS))

/* INTERFACE_INFO (ws2ipdef.h, 76 bytes on x64: packed as Windows lays it out). */
typedef union sockaddr_gen {
    struct sockaddr Address;
    struct sockaddr_in AddressIn;
    struct sockaddr_in6_old {
        SHORT sin6_family;
        USHORT sin6_port;
        ULONG sin6_flowinfo;
        USHORT sin6_addr[8];
    } AddressIn6;
} sockaddr_gen;
typedef struct _INTERFACE_INFO {
    ULONG iiFlags;
    sockaddr_gen iiAddress;
    sockaddr_gen iiBroadcastAddress;
    sockaddr_gen iiNetmask;
} INTERFACE_INFO, *LPINTERFACE_INFO;

#define IOC_VENDOR 0x18000000
#define FD_READ_BIT 0
#define FD_READ (1 << FD_READ_BIT)
#define FD_WRITE_BIT 1
#define FD_WRITE (1 << FD_WRITE_BIT)
#define FD_OOB_BIT 2
#define FD_OOB (1 << FD_OOB_BIT)
#define FD_ACCEPT_BIT 3
#define FD_ACCEPT (1 << FD_ACCEPT_BIT)
#define FD_CONNECT_BIT 4
#define FD_CONNECT (1 << FD_CONNECT_BIT)
#define FD_CLOSE_BIT 5
#define FD_CLOSE (1 << FD_CLOSE_BIT)
#define FD_QOS_BIT 6
#define FD_QOS (1 << FD_QOS_BIT)
#define FD_GROUP_QOS_BIT 7
#define FD_GROUP_QOS (1 << FD_GROUP_QOS_BIT)
#define FD_ROUTING_INTERFACE_CHANGE_BIT 8
#define FD_ROUTING_INTERFACE_CHANGE (1 << FD_ROUTING_INTERFACE_CHANGE_BIT)
#define FD_ADDRESS_LIST_CHANGE_BIT 9
#define FD_ADDRESS_LIST_CHANGE (1 << FD_ADDRESS_LIST_CHANGE_BIT)
#define FD_MAX_EVENTS 10
#define FD_ALL_EVENTS ((1 << FD_MAX_EVENTS) - 1)

/* WSAEventSelect / WSAEnumNetworkEvents (44 bytes). */
typedef struct _WSANETWORKEVENTS {
    LONG lNetworkEvents;
    int iErrorCode[FD_MAX_EVENTS];
} WSANETWORKEVENTS, *LPWSANETWORKEVENTS;

struct tcp_keepalive {
    ULONG onoff;
    ULONG keepalivetime;
    ULONG keepaliveinterval;
};

typedef void (CALLBACK *LPWSAOVERLAPPED_COMPLETION_ROUTINE)(DWORD dwError, DWORD cbTransferred, LPWSAOVERLAPPED lpOverlapped, DWORD dwFlags);

typedef struct _WSAPROTOCOL_INFOA WSAPROTOCOL_INFOA, *LPWSAPROTOCOL_INFOA;
INT WSAAddressToStringA(LPSOCKADDR lpsaAddress, DWORD dwAddressLength, LPWSAPROTOCOL_INFOA lpProtocolInfo,
                        LPSTR lpszAddressString, LPDWORD lpdwAddressStringLength);
INT WSAStringToAddressA(LPSTR AddressString, INT AddressFamily, LPWSAPROTOCOL_INFOA lpProtocolInfo,
                        LPSOCKADDR lpAddress, LPINT lpAddressLength);
#ifndef UNICODE
#define WSAAddressToString WSAAddressToStringA
#define WSAStringToAddress WSAStringToAddressA
#endif
typedef LPWSAPROTOCOL_INFOA LPWSAPROTOCOL_INFO;
typedef unsigned int GROUP;

int WSAStartup(WORD wVersionRequested, LPWSADATA lpWSAData);
int WSACleanup(void);
int WSAGetLastError(void);
void WSASetLastError(int iError);
SOCKET socket(int af, int type, int protocol) OVL_SYM(socket);
SOCKET WSASocketA(int af, int type, int protocol, LPWSAPROTOCOL_INFOA lpProtocolInfo, GROUP g, DWORD dwFlags);
#define WSASocket WSASocketA
#define WSASocketW WSASocketA
int closesocket(SOCKET s);
int bind(SOCKET s, const struct sockaddr *name, int namelen) OVL_SYM(bind);
int listen(SOCKET s, int backlog) OVL_SYM(listen);
SOCKET accept(SOCKET s, struct sockaddr *addr, int *addrlen) OVL_SYM(accept);
SOCKET WSAAccept(SOCKET s, struct sockaddr *addr, LPINT addrlen, void *lpfnCondition, DWORD_PTR dwCallbackData);
int connect(SOCKET s, const struct sockaddr *name, int namelen) OVL_SYM(connect);
int shutdown(SOCKET s, int how) OVL_SYM(shutdown);
int setsockopt(SOCKET s, int level, int optname, const char *optval, int optlen) OVL_SYM(setsockopt);
int getsockopt(SOCKET s, int level, int optname, char *optval, int *optlen) OVL_SYM(getsockopt);
int getsockname(SOCKET s, struct sockaddr *name, int *namelen) OVL_SYM(getsockname);
int getpeername(SOCKET s, struct sockaddr *name, int *namelen) OVL_SYM(getpeername);
int ioctlsocket(SOCKET s, long cmd, u_long *argp);
int send(SOCKET s, const char *buf, int len, int flags) OVL_SYM(send);
int recv(SOCKET s, char *buf, int len, int flags) OVL_SYM(recv);
int sendto(SOCKET s, const char *buf, int len, int flags, const struct sockaddr *to, int tolen) OVL_SYM(sendto);
int recvfrom(SOCKET s, char *buf, int len, int flags, struct sockaddr *from, int *fromlen) OVL_SYM(recvfrom);
int select(int nfds, fd_set *readfds, fd_set *writefds, fd_set *exceptfds, const struct timeval *timeout);
int WSARecv(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount, LPDWORD lpNumberOfBytesRecvd, LPDWORD lpFlags,
            LPWSAOVERLAPPED lpOverlapped, LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine);
int WSASend(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount, LPDWORD lpNumberOfBytesSent, DWORD dwFlags,
            LPWSAOVERLAPPED lpOverlapped, LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine);
int WSARecvFrom(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount, LPDWORD lpNumberOfBytesRecvd, LPDWORD lpFlags,
                struct sockaddr *lpFrom, LPINT lpFromlen, LPWSAOVERLAPPED lpOverlapped,
                LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine);
int WSASendTo(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount, LPDWORD lpNumberOfBytesSent, DWORD dwFlags,
              const struct sockaddr *lpTo, int iTolen, LPWSAOVERLAPPED lpOverlapped,
              LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine);
BOOL WSAGetOverlappedResult(SOCKET s, LPWSAOVERLAPPED lpOverlapped, LPDWORD lpcbTransfer, BOOL fWait, LPDWORD lpdwFlags);
WSAEVENT WSACreateEvent(void);
int WSAEventSelect(SOCKET s, WSAEVENT hEventObject, LONG lNetworkEvents);
int WSAProviderConfigChange(LPHANDLE lpNotificationHandle, LPWSAOVERLAPPED lpOverlapped,
                            LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine);

/* ---- name-service queries: WSALookupService*, WSANSPIoctl ---- */
#define NS_ALL 0
#define NS_DNS 12
#define LUP_DEEP 0x0001
#define LUP_CONTAINERS 0x0002
#define LUP_NOCONTAINERS 0x0004
#define LUP_RETURN_NAME 0x0010
#define LUP_RETURN_TYPE 0x0020
#define LUP_RETURN_VERSION 0x0040
#define LUP_RETURN_COMMENT 0x0080
#define LUP_RETURN_ADDR 0x0100
#define LUP_RETURN_BLOB 0x0200
#define LUP_RETURN_ALL 0x0FF0
#define SIO_NSP_NOTIFY_CHANGE _WSAIOW(IOC_WS2, 25)
typedef struct _CSADDR_INFO {
    SOCKET_ADDRESS LocalAddr;
    SOCKET_ADDRESS RemoteAddr;
    INT iSocketType;
    INT iProtocol;
} CSADDR_INFO, *PCSADDR_INFO, *LPCSADDR_INFO;
typedef struct _AFPROTOCOLS {
    INT iAddressFamily;
    INT iProtocol;
} AFPROTOCOLS, *PAFPROTOCOLS, *LPAFPROTOCOLS;
typedef enum _WSAEcomparator { COMP_EQUAL = 0, COMP_NOTLESS } WSAECOMPARATOR;
typedef struct _WSAVersion {
    DWORD dwVersion;
    WSAECOMPARATOR ecHow;
} WSAVERSION, *PWSAVERSION, *LPWSAVERSION;
typedef struct _BLOB {
    ULONG cbSize;
    BYTE *pBlobData;
} BLOB, *LPBLOB;
typedef struct _WSAQuerySetA {
    DWORD dwSize;
    LPSTR lpszServiceInstanceName;
    LPGUID lpServiceClassId;
    LPWSAVERSION lpVersion;
    LPSTR lpszComment;
    DWORD dwNameSpace;
    LPGUID lpNSProviderId;
    LPSTR lpszContext;
    DWORD dwNumberOfProtocols;
    LPAFPROTOCOLS lpafpProtocols;
    LPSTR lpszQueryString;
    DWORD dwNumberOfCsAddrs;
    LPCSADDR_INFO lpcsaBuffer;
    DWORD dwOutputFlags;
    LPBLOB lpBlob;
} WSAQUERYSETA, *PWSAQUERYSETA, *LPWSAQUERYSETA;
typedef enum _WSACOMPLETIONTYPE {
    NSP_NOTIFY_IMMEDIATELY = 0,
    NSP_NOTIFY_HWND,
    NSP_NOTIFY_EVENT,
    NSP_NOTIFY_PORT,
    NSP_NOTIFY_APC
} WSACOMPLETIONTYPE, *PWSACOMPLETIONTYPE, *LPWSACOMPLETIONTYPE;
typedef struct _WSACOMPLETION {
    WSACOMPLETIONTYPE Type;
    union {
        struct {
            HWND hWnd;
            UINT uMsg;
            WPARAM context;
        } WindowMessage;
        struct {
            LPWSAOVERLAPPED lpOverlapped;
        } Event;
        struct {
            LPWSAOVERLAPPED lpOverlapped;
            LPWSAOVERLAPPED_COMPLETION_ROUTINE lpfnCompletionProc;
        } Apc;
        struct {
            LPWSAOVERLAPPED lpOverlapped;
            HANDLE hPort;
            ULONG_PTR Key;
        } Port;
    } Parameters;
} WSACOMPLETION, *PWSACOMPLETION, *LPWSACOMPLETION;
INT WSALookupServiceBeginA(LPWSAQUERYSETA lpqsRestrictions, DWORD dwControlFlags, LPHANDLE lphLookup);
INT WSALookupServiceNextA(HANDLE hLookup, DWORD dwControlFlags, LPDWORD lpdwBufferLength, LPWSAQUERYSETA lpqsResults);
INT WSALookupServiceEnd(HANDLE hLookup);
INT WSANSPIoctl(HANDLE hLookup, DWORD dwControlCode, LPVOID lpvInBuffer, DWORD cbInBuffer, LPVOID lpvOutBuffer,
                DWORD cbOutBuffer, LPDWORD lpcbBytesReturned, LPWSACOMPLETION lpCompletion);
#define WSAQUERYSET WSAQUERYSETA
#define PWSAQUERYSET PWSAQUERYSETA
#define LPWSAQUERYSET LPWSAQUERYSETA
#define WSALookupServiceBegin WSALookupServiceBeginA
#define WSALookupServiceNext WSALookupServiceNextA
int WSAEnumNetworkEvents(SOCKET s, WSAEVENT hEventObject, LPWSANETWORKEVENTS lpNetworkEvents);
BOOL WSASetEvent(WSAEVENT hEvent);
BOOL WSAResetEvent(WSAEVENT hEvent);
BOOL WSACloseEvent(WSAEVENT hEvent);
/* Beyond Windows: up to 192 events (Windows: WSA_MAXIMUM_WAIT_EVENTS, 64, which
 * stays 64). The limit is where answers would collide: WSA_WAIT_EVENT_0 + 192 ==
 * WSA_WAIT_IO_COMPLETION, + 258 == WSA_WAIT_TIMEOUT. More than 192 fails with
 * WSA_WAIT_FAILED and WSAGetLastError() == WSA_INVALID_PARAMETER. For more
 * sockets, wait on several arrays from several threads, or use a completion
 * port (no limit). */
DWORD WSAWaitForMultipleEvents(DWORD cEvents, const WSAEVENT *lphEvents, BOOL fWaitAll, DWORD dwTimeout, BOOL fAlertable);
int WSAIoctl(SOCKET s, DWORD dwIoControlCode, LPVOID lpvInBuffer, DWORD cbInBuffer, LPVOID lpvOutBuffer, DWORD cbOutBuffer,
             LPDWORD lpcbBytesReturned, LPWSAOVERLAPPED lpOverlapped, LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine);

/* byte order: the network order is big-endian on every host */
static inline u_short ovl_bswap16(u_short v) { return (u_short)__builtin_bswap16(v); }
static inline u_long ovl_bswap32(u_long v) { return (u_long)__builtin_bswap32(v); }
static inline u_short htons(u_short v) { return ovl_bswap16(v); }
static inline u_short ntohs(u_short v) { return ovl_bswap16(v); }
static inline u_long htonl(u_long v) { return ovl_bswap32(v); }
static inline u_long ntohl(u_long v) { return ovl_bswap32(v); }

u_long inet_addr(const char *cp) OVL_SYM(inet_addr);
char *inet_ntoa(struct in_addr in) OVL_SYM(inet_ntoa);
int inet_pton(int Family, const char *pszAddrString, void *pAddrBuf) OVL_SYM(inet_pton);
const char *inet_ntop(int Family, const void *pAddr, char *pStringBuf, size_t StringBufSize) OVL_SYM(inet_ntop);
#define InetPtonA inet_pton
#define InetNtopA inet_ntop
#define InetPton inet_pton
#define InetNtop inet_ntop

struct hostent {
    char *h_name;
    char **h_aliases;
    short h_addrtype;
    short h_length;
    char **h_addr_list;
};
#define h_addr h_addr_list[0]
typedef struct hostent HOSTENT, *PHOSTENT, *LPHOSTENT;
struct hostent *gethostbyname(const char *name) OVL_SYM(gethostbyname);
int gethostname(char *name, int namelen) OVL_SYM(gethostname);

/* ---- ws2tcpip.h ---- */
typedef struct addrinfo {
    int ai_flags;
    int ai_family;
    int ai_socktype;
    int ai_protocol;
    size_t ai_addrlen;
    char *ai_canonname;
    struct sockaddr *ai_addr;
    struct addrinfo *ai_next;
} ADDRINFOA, *PADDRINFOA, ADDRINFO, *LPADDRINFO;
#define AI_PASSIVE 0x00000001
#define AI_CANONNAME 0x00000002
#define AI_NUMERICHOST 0x00000004
#define AI_NUMERICSERV 0x00000008
#define AI_ADDRCONFIG 0x00000400
#define AI_V4MAPPED 0x00000800
#define AI_ALL 0x00000100
#define NI_NOFQDN 0x01
#define NI_NUMERICHOST 0x02
#define NI_NAMEREQD 0x04
#define NI_NUMERICSERV 0x08
#define NI_DGRAM 0x10
#define NI_MAXHOST 1025
#define NI_MAXSERV 32
#define EAI_AGAIN WSATRY_AGAIN
#define EAI_BADFLAGS WSAEINVAL
#define EAI_FAIL WSANO_RECOVERY
#define EAI_FAMILY WSAEAFNOSUPPORT
#define EAI_MEMORY WSA_NOT_ENOUGH_MEMORY
#define EAI_NONAME WSAHOST_NOT_FOUND
#define EAI_SERVICE WSATYPE_NOT_FOUND
#define EAI_SOCKTYPE WSAESOCKTNOSUPPORT
#define EAI_NODATA EAI_NONAME
#define WSATYPE_NOT_FOUND 10109L
#define INET_ADDRSTRLEN 22
#define INET6_ADDRSTRLEN 65
int getaddrinfo(const char *pNodeName, const char *pServiceName, const struct addrinfo *pHints, struct addrinfo **ppResult) OVL_SYM(getaddrinfo);
void freeaddrinfo(struct addrinfo *pAddrInfo) OVL_SYM(freeaddrinfo);
int getnameinfo(const struct sockaddr *pSockaddr, socklen_t SockaddrLength, char *pNodeBuffer, DWORD NodeBufferSize,
                char *pServiceBuffer, DWORD ServiceBufferSize, INT Flags) OVL_SYM(getnameinfo);
const char *gai_strerrorA(int ecode);
#define gai_strerror gai_strerrorA
#define GetAddrInfoA getaddrinfo
#define FreeAddrInfoA freeaddrinfo
typedef struct ip_mreq {
    IN_ADDR imr_multiaddr;
    IN_ADDR imr_interface;
} IP_MREQ, *PIP_MREQ;
typedef struct ipv6_mreq {
    IN6_ADDR ipv6mr_multiaddr;
    ULONG ipv6mr_interface;
} IPV6_MREQ, *PIPV6_MREQ;
typedef struct in_pktinfo {
    IN_ADDR ipi_addr;
    ULONG ipi_ifindex;
} IN_PKTINFO, *PIN_PKTINFO;
typedef struct in6_pktinfo {
    IN6_ADDR ipi6_addr;
    ULONG ipi6_ifindex;
} IN6_PKTINFO, *PIN6_PKTINFO;

/* ---- files (for TransmitFile / TransmitPackets) ---- */
#define GENERIC_READ 0x80000000UL
#define GENERIC_WRITE 0x40000000UL
#define GENERIC_EXECUTE 0x20000000UL
#define GENERIC_ALL 0x10000000UL
#define FILE_SHARE_READ 0x00000001
#define FILE_SHARE_WRITE 0x00000002
#define FILE_SHARE_DELETE 0x00000004
#define CREATE_NEW 1
#define CREATE_ALWAYS 2
#define OPEN_EXISTING 3
#define OPEN_ALWAYS 4
#define TRUNCATE_EXISTING 5
#define FILE_ATTRIBUTE_READONLY 0x00000001
#define FILE_ATTRIBUTE_NORMAL 0x00000080
#define FILE_FLAG_OVERLAPPED 0x40000000
#define FILE_FLAG_SEQUENTIAL_SCAN 0x08000000
#define FILE_FLAG_NO_BUFFERING 0x20000000
#define INVALID_FILE_SIZE ((DWORD)0xFFFFFFFF)
#define FILE_BEGIN 0
#define FILE_CURRENT 1
#define FILE_END 2
#ifndef ERROR_PATH_NOT_FOUND
#define ERROR_PATH_NOT_FOUND 3L
#endif
#ifndef ERROR_FILE_EXISTS
#define ERROR_FILE_EXISTS 80L
#endif
typedef struct _SECURITY_ATTRIBUTES *LPSECURITY_ATTRIBUTES;
HANDLE CreateFileA(LPCSTR lpFileName, DWORD dwDesiredAccess, DWORD dwShareMode, LPSECURITY_ATTRIBUTES lpSecurityAttributes,
                   DWORD dwCreationDisposition, DWORD dwFlagsAndAttributes, HANDLE hTemplateFile);
DWORD GetFileSize(HANDLE hFile, LPDWORD lpFileSizeHigh);
BOOL GetFileSizeEx(HANDLE hFile, PLARGE_INTEGER lpFileSize);
BOOL SetFilePointerEx(HANDLE hFile, LARGE_INTEGER liDistanceToMove, PLARGE_INTEGER lpNewFilePointer, DWORD dwMoveMethod);

/* ---- mswsock.h ---- */
#define SO_CONNDATA 0x7000
#define SO_UPDATE_ACCEPT_CONTEXT 0x700B
#define SO_CONNECT_TIME 0x700C
#define SO_UPDATE_CONNECT_CONTEXT 0x7010
#define TF_DISCONNECT 0x01
#define TF_REUSE_SOCKET 0x02
#define TF_WRITE_BEHIND 0x04
#define TF_USE_DEFAULT_WORKER 0x00
#define TF_USE_SYSTEM_THREAD 0x10
#define TF_USE_KERNEL_APC 0x20
#define TP_ELEMENT_MEMORY 1
#define TP_ELEMENT_FILE 2
#define TP_ELEMENT_EOP 4

#define WSAID_ACCEPTEX {0xb5367df1, 0xcbac, 0x11cf, {0x95, 0xca, 0x00, 0x80, 0x5f, 0x48, 0xa1, 0x92}}
#define WSAID_GETACCEPTEXSOCKADDRS {0xb5367df2, 0xcbac, 0x11cf, {0x95, 0xca, 0x00, 0x80, 0x5f, 0x48, 0xa1, 0x92}}
#define WSAID_TRANSMITFILE {0xb5367df0, 0xcbac, 0x11cf, {0x95, 0xca, 0x00, 0x80, 0x5f, 0x48, 0xa1, 0x92}}
#define WSAID_CONNECTEX {0x25a207b9, 0xddf3, 0x4660, {0x8e, 0xe9, 0x76, 0xe5, 0x8c, 0x74, 0x06, 0x3e}}
#define WSAID_DISCONNECTEX {0x7fda2e11, 0x8630, 0x436f, {0xa0, 0x31, 0xf5, 0x36, 0xa6, 0xee, 0xc1, 0x57}}
#define WSAID_TRANSMITPACKETS {0xd9689da0, 0x1f90, 0x11d3, {0x99, 0x71, 0x00, 0xc0, 0x4f, 0x68, 0xc8, 0x76}}
#define WSAID_WSARECVMSG {0xf689d7c8, 0x6f1f, 0x436b, {0x8a, 0x53, 0xe5, 0x4f, 0xe3, 0x51, 0xc3, 0x22}}
#define WSAID_WSASENDMSG {0xa441e712, 0x754f, 0x43ca, {0x84, 0xa7, 0x0d, 0xee, 0x44, 0xcf, 0x60, 0x6d}}

typedef BOOL (*LPFN_ACCEPTEX)(SOCKET sListenSocket, SOCKET sAcceptSocket, PVOID lpOutputBuffer, DWORD dwReceiveDataLength,
                              DWORD dwLocalAddressLength, DWORD dwRemoteAddressLength, LPDWORD lpdwBytesReceived,
                              LPOVERLAPPED lpOverlapped);
typedef void (*LPFN_GETACCEPTEXSOCKADDRS)(PVOID lpOutputBuffer, DWORD dwReceiveDataLength, DWORD dwLocalAddressLength,
                                          DWORD dwRemoteAddressLength, struct sockaddr **LocalSockaddr, LPINT LocalSockaddrLength,
                                          struct sockaddr **RemoteSockaddr, LPINT RemoteSockaddrLength);
typedef BOOL (*LPFN_CONNECTEX)(SOCKET s, const struct sockaddr *name, int namelen, PVOID lpSendBuffer, DWORD dwSendDataLength,
                               LPDWORD lpdwBytesSent, LPOVERLAPPED lpOverlapped);
typedef BOOL (*LPFN_DISCONNECTEX)(SOCKET s, LPOVERLAPPED lpOverlapped, DWORD dwFlags, DWORD dwReserved);
typedef INT (*LPFN_WSARECVMSG)(SOCKET s, LPWSAMSG lpMsg, LPDWORD lpdwNumberOfBytesRecvd, LPWSAOVERLAPPED lpOverlapped,
                               LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine);
typedef INT (*LPFN_WSASENDMSG)(SOCKET s, LPWSAMSG lpMsg, DWORD dwFlags, LPDWORD lpNumberOfBytesSent, LPWSAOVERLAPPED lpOverlapped,
                               LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine);
typedef struct _TRANSMIT_FILE_BUFFERS {
    LPVOID Head;
    DWORD HeadLength;
    LPVOID Tail;
    DWORD TailLength;
} TRANSMIT_FILE_BUFFERS, *PTRANSMIT_FILE_BUFFERS, *LPTRANSMIT_FILE_BUFFERS;
typedef struct _TRANSMIT_PACKETS_ELEMENT {
    ULONG dwElFlags;
    ULONG cLength;
    union {
        struct {
            LARGE_INTEGER nFileOffset;
            HANDLE hFile;
        };
        PVOID pBuffer;
    };
} TRANSMIT_PACKETS_ELEMENT, *PTRANSMIT_PACKETS_ELEMENT, *LPTRANSMIT_PACKETS_ELEMENT;
typedef BOOL (*LPFN_TRANSMITFILE)(SOCKET hSocket, HANDLE hFile, DWORD nNumberOfBytesToWrite, DWORD nNumberOfBytesPerSend,
                                  LPOVERLAPPED lpOverlapped, LPTRANSMIT_FILE_BUFFERS lpTransmitBuffers, DWORD dwReserved);
typedef BOOL (*LPFN_TRANSMITPACKETS)(SOCKET hSocket, LPTRANSMIT_PACKETS_ELEMENT lpPacketArray, DWORD nElementCount,
                                     DWORD nSendSize, LPOVERLAPPED lpOverlapped, DWORD dwFlags);
BOOL TransmitFile(SOCKET hSocket, HANDLE hFile, DWORD nNumberOfBytesToWrite, DWORD nNumberOfBytesPerSend,
                  LPOVERLAPPED lpOverlapped, LPTRANSMIT_FILE_BUFFERS lpTransmitBuffers, DWORD dwReserved);
BOOL TransmitPackets(SOCKET hSocket, LPTRANSMIT_PACKETS_ELEMENT lpPacketArray, DWORD nElementCount, DWORD nSendSize,
                     LPOVERLAPPED lpOverlapped, DWORD dwFlags);
int WSASendMsg(SOCKET Handle, LPWSAMSG lpMsg, DWORD dwFlags, LPDWORD lpNumberOfBytesSent, LPWSAOVERLAPPED lpOverlapped,
               LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine);
BOOL AcceptEx(SOCKET sListenSocket, SOCKET sAcceptSocket, PVOID lpOutputBuffer, DWORD dwReceiveDataLength,
              DWORD dwLocalAddressLength, DWORD dwRemoteAddressLength, LPDWORD lpdwBytesReceived, LPOVERLAPPED lpOverlapped);
void GetAcceptExSockaddrs(PVOID lpOutputBuffer, DWORD dwReceiveDataLength, DWORD dwLocalAddressLength,
                          DWORD dwRemoteAddressLength, struct sockaddr **LocalSockaddr, LPINT LocalSockaddrLength,
                          struct sockaddr **RemoteSockaddr, LPINT RemoteSockaddrLength);


/* ---- UNICODE builds: the W functions programs call (wchar_t strings of the platform) ---- */
static inline HANDLE CreateEventW(LPSECURITY_ATTRIBUTES a, BOOL manual, BOOL initial, LPCWSTR name)
{
    /* A named event is not provided (ERROR_NOT_SUPPORTED), as for CreateEventA. */
    return CreateEventA(a, manual, initial, name ? "" : NULL);
}
static inline HANDLE CreateFileW(LPCWSTR name, DWORD access, DWORD share, LPSECURITY_ATTRIBUTES sa, DWORD disposition,
                                 DWORD flags, HANDLE tmpl)
{
    char path[4096];
    if (name == NULL || ovl_wide_to_utf8(name, path, sizeof(path)) > sizeof(path)) {
        SetLastError(ERROR_PATH_NOT_FOUND);
        return INVALID_HANDLE_VALUE;
    }
    return CreateFileA(path, access, share, sa, disposition, flags, tmpl);
}
static inline int MessageBoxW(HWND wnd, LPCWSTR text, LPCWSTR caption, UINT type)
{
    char t[2048], c[256];
    ovl_wide_to_utf8(text, t, sizeof(t));
    ovl_wide_to_utf8(caption, c, sizeof(c));
    return MessageBoxA(wnd, t, c, type);
}
static inline void OutputDebugStringW(LPCWSTR s)
{
    char t[2048];
    ovl_wide_to_utf8(s, t, sizeof(t));
    OutputDebugStringA(t);
}
static inline DWORD FormatMessageW(DWORD flags, LPCVOID source, DWORD id, DWORD lang, LPWSTR buffer, DWORD size, va_list *args)
{
    char text[1024];
    DWORD n = FormatMessageA(flags & ~(DWORD)FORMAT_MESSAGE_ALLOCATE_BUFFER, source, id, lang, text, sizeof(text), args);
    LPWSTR out;
    if (n == 0)
        return 0;
    if (flags & FORMAT_MESSAGE_ALLOCATE_BUFFER) {
        out = (LPWSTR)LocalAlloc(LPTR, (n + 1 > size ? n + 1 : size) * sizeof(wchar_t));
        if (out == NULL)
            return 0;
        *(LPWSTR *)buffer = out;
    } else {
        if (size < n + 1) {
            SetLastError(ERROR_INSUFFICIENT_BUFFER);
            return 0;
        }
        out = buffer;
    }
    ovl_utf8_to_wide(text, out, n + 1);
    return n;
}
static inline PCWSTR InetNtopW(INT af, const VOID *addr, PWSTR out, size_t n)
{
    char t[64];
    if (inet_ntop(af, addr, t, sizeof(t)) == NULL)
        return NULL;
    if (ovl_utf8_to_wide(t, out, n) > n) {
        WSASetLastError(ERROR_INVALID_PARAMETER);
        return NULL;
    }
    return out;
}
static inline INT InetPtonW(INT af, PCWSTR text, PVOID out)
{
    char t[64];
    if (ovl_wide_to_utf8(text, t, sizeof(t)) > sizeof(t))
        return 0;
    return inet_pton(af, t, out);
}
static inline INT WSAAddressToStringW(LPSOCKADDR sa, DWORD len, LPWSAPROTOCOL_INFOA info, LPWSTR out, LPDWORD outlen)
{
    char t[128];
    DWORD n = sizeof(t);
    if (outlen == NULL) {
        WSASetLastError(WSAEFAULT);
        return SOCKET_ERROR;
    }
    if (WSAAddressToStringA(sa, len, info, t, &n) != 0)
        return SOCKET_ERROR;
    if (out == NULL || *outlen < n) {
        *outlen = n;
        WSASetLastError(WSAEFAULT);
        return SOCKET_ERROR;
    }
    ovl_utf8_to_wide(t, out, n);
    *outlen = n;
    return 0;
}
static inline INT WSAStringToAddressW(LPWSTR text, INT af, LPWSAPROTOCOL_INFOA info, LPSOCKADDR out, LPINT outlen)
{
    char t[128];
    if (text == NULL || ovl_wide_to_utf8(text, t, sizeof(t)) > sizeof(t)) {
        WSASetLastError(WSAEINVAL);
        return SOCKET_ERROR;
    }
    return WSAStringToAddressA(t, af, info, out, outlen);
}
#ifdef UNICODE
#undef CreateEvent
#define CreateEvent CreateEventW
#define CreateFile CreateFileW
#undef MessageBox
#define MessageBox MessageBoxW
#undef OutputDebugString
#define OutputDebugString OutputDebugStringW
#undef FormatMessage
#define FormatMessage FormatMessageW
#undef InetNtop
#define InetNtop InetNtopW
#undef InetPton
#define InetPton InetPtonW
#define WSAAddressToString WSAAddressToStringW
#define WSAStringToAddress WSAStringToAddressW
#else
#define CreateFile CreateFileA
#endif

#ifdef __cplusplus
}
#endif
#endif /* OVERLAPPED_WIN32_H */
