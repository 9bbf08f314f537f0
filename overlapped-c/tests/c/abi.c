/*
 * abi.c: the layouts and values of the C interface are Windows x64's.
 * Every check is at compile time (this file is compiled as C and as C++);
 * running it only prints "ok". Header spellings of real programs are used.
 */
#include <WinSock2.h>
#include <Ws2tcpip.h>
#include <MSWSock.h>
#include <Windows.h>
#include <tchar.h>
#include <process.h>
#include <stdio.h>

#pragma comment(lib, "ws2_32.lib")
#pragma warning(disable : 4996)

#ifdef __cplusplus
#define CHECK(x) static_assert(x, #x)
/* C++ programs derive their own records from OVERLAPPED. */
struct PerIo : OVERLAPPED {
    int op;
};
CHECK(sizeof(PerIo) == 40);
#else
#define CHECK(x) _Static_assert(x, #x)
#endif

/* basic types */
CHECK(sizeof(SOCKET) == 8);
CHECK(sizeof(HANDLE) == 8);
CHECK(sizeof(DWORD) == 4);
CHECK(sizeof(LONG) == 4);
CHECK(sizeof(u_long) == 4);
CHECK(sizeof(ULONG_PTR) == 8);
CHECK(sizeof(BOOL) == 4);
CHECK(sizeof(WORD) == 2);
CHECK(sizeof(GUID) == 16);

/* WSAOVERLAPPED / OVERLAPPED */
CHECK(sizeof(WSAOVERLAPPED) == 32);
CHECK(offsetof(OVERLAPPED, Internal) == 0);
CHECK(offsetof(OVERLAPPED, InternalHigh) == 8);
CHECK(offsetof(OVERLAPPED, Offset) == 16);
CHECK(offsetof(OVERLAPPED, OffsetHigh) == 20);
CHECK(offsetof(OVERLAPPED, Pointer) == 16);
CHECK(offsetof(OVERLAPPED, hEvent) == 24);
CHECK(sizeof(OVERLAPPED_ENTRY) == 32);
CHECK(offsetof(OVERLAPPED_ENTRY, lpOverlapped) == 8);
CHECK(offsetof(OVERLAPPED_ENTRY, Internal) == 16);
CHECK(offsetof(OVERLAPPED_ENTRY, dwNumberOfBytesTransferred) == 24);

/* buffers and messages */
CHECK(sizeof(WSABUF) == 16);
CHECK(offsetof(WSABUF, len) == 0);
CHECK(offsetof(WSABUF, buf) == 8);
CHECK(sizeof(WSAMSG) == 56);
CHECK(offsetof(WSAMSG, namelen) == 8);
CHECK(offsetof(WSAMSG, lpBuffers) == 16);
CHECK(offsetof(WSAMSG, dwBufferCount) == 24);
CHECK(offsetof(WSAMSG, Control) == 32);
CHECK(offsetof(WSAMSG, dwFlags) == 48);
CHECK(sizeof(WSACMSGHDR) == 16);

/* addresses */
CHECK(sizeof(struct sockaddr) == 16);
CHECK(sizeof(SOCKADDR_IN) == 16);
CHECK(offsetof(SOCKADDR_IN, sin_port) == 2);
CHECK(offsetof(SOCKADDR_IN, sin_addr) == 4);
CHECK(offsetof(SOCKADDR_IN, sin_zero) == 8);
CHECK(sizeof(IN_ADDR) == 4);
CHECK(sizeof(SOCKADDR_IN6) == 28);
CHECK(offsetof(SOCKADDR_IN6, sin6_flowinfo) == 4);
CHECK(offsetof(SOCKADDR_IN6, sin6_addr) == 8);
CHECK(offsetof(SOCKADDR_IN6, sin6_scope_id) == 24);
CHECK(sizeof(SOCKADDR_STORAGE) == 128);
CHECK(sizeof(struct addrinfo) == 48);
CHECK(offsetof(struct addrinfo, ai_addrlen) == 16);
CHECK(offsetof(struct addrinfo, ai_canonname) == 24);
CHECK(offsetof(struct addrinfo, ai_addr) == 32);
CHECK(offsetof(struct addrinfo, ai_next) == 40);
CHECK(sizeof(struct hostent) == 32);
CHECK(offsetof(struct hostent, h_addrtype) == 16);
CHECK(offsetof(struct hostent, h_addr_list) == 24);
CHECK(sizeof(fd_set) == 520);
CHECK(sizeof(struct linger) == 4);

/* system structures */
CHECK(sizeof(WSADATA) == 408);
CHECK(offsetof(WSADATA, lpVendorInfo) == 8);
CHECK(offsetof(WSADATA, szDescription) == 16);
CHECK(offsetof(WSADATA, szSystemStatus) == 273);
CHECK(sizeof(SYSTEM_INFO) == 48);
CHECK(offsetof(SYSTEM_INFO, dwPageSize) == 4);
CHECK(offsetof(SYSTEM_INFO, dwActiveProcessorMask) == 24);
CHECK(offsetof(SYSTEM_INFO, dwNumberOfProcessors) == 32);
CHECK(offsetof(SYSTEM_INFO, wProcessorLevel) == 44);
CHECK(sizeof(CRITICAL_SECTION) == 40);

/* constants */
CHECK(AF_INET == 2 && AF_INET6 == 23 && AF_UNSPEC == 0);
CHECK(SOCK_STREAM == 1 && SOCK_DGRAM == 2 && IPPROTO_TCP == 6 && IPPROTO_UDP == 17 && IPPROTO_IPV6 == 41);
CHECK(SOL_SOCKET == 0xffff && SO_REUSEADDR == 4 && SO_KEEPALIVE == 8 && SO_LINGER == 0x80);
CHECK(SO_SNDBUF == 0x1001 && SO_RCVBUF == 0x1002 && SO_RCVTIMEO == 0x1006 && SO_ERROR == 0x1007 && SO_TYPE == 0x1008);
CHECK(SO_UPDATE_ACCEPT_CONTEXT == 0x700B && SO_UPDATE_CONNECT_CONTEXT == 0x7010 && SO_CONNECT_TIME == 0x700C);
CHECK(TCP_NODELAY == 1 && IPV6_V6ONLY == 27);
CHECK(SOMAXCONN == 0x7fffffff);
CHECK(INVALID_SOCKET == (SOCKET)~0 && SOCKET_ERROR == -1);
CHECK(MSG_OOB == 1 && MSG_PEEK == 2 && MSG_WAITALL == 8 && MSG_PARTIAL == 0x8000);
CHECK(SD_RECEIVE == 0 && SD_SEND == 1 && SD_BOTH == 2);
CHECK(WSA_FLAG_OVERLAPPED == 1);
CHECK(FIONBIO == 0x8004667E && FIONREAD == 0x4004667F);
CHECK((DWORD)SIO_GET_EXTENSION_FUNCTION_POINTER == 0xC8000006);
CHECK((DWORD)SIO_KEEPALIVE_VALS == 0x98000004);
CHECK((DWORD)SIO_ADDRESS_LIST_CHANGE == 0x28000017);
CHECK(WSA_IO_PENDING == 997 && WSA_IO_INCOMPLETE == 996 && WSA_OPERATION_ABORTED == 995);
CHECK(WSA_INVALID_HANDLE == 6 && WSA_INVALID_PARAMETER == 87);
CHECK(WSAEINTR == 10004 && WSAEFAULT == 10014 && WSAEINVAL == 10022 && WSAEWOULDBLOCK == 10035);
CHECK(WSAENOTSOCK == 10038 && WSAEMSGSIZE == 10040 && WSAEAFNOSUPPORT == 10047 && WSAEADDRINUSE == 10048);
CHECK(WSAECONNABORTED == 10053 && WSAECONNRESET == 10054 && WSAENOTCONN == 10057 && WSAECONNREFUSED == 10061);
CHECK(WSANOTINITIALISED == 10093 && WSAHOST_NOT_FOUND == 11001);
CHECK(WSA_WAIT_EVENT_0 == 0 && WSA_WAIT_TIMEOUT == 258 && WSA_WAIT_IO_COMPLETION == 0xC0 && WSA_WAIT_FAILED == 0xFFFFFFFF);
CHECK(WAIT_OBJECT_0 == 0 && WAIT_TIMEOUT == 258 && WAIT_IO_COMPLETION == 0xC0 && INFINITE == 0xFFFFFFFF);
CHECK(WSA_MAXIMUM_WAIT_EVENTS == 64 && FD_SETSIZE == 64);
CHECK(ERROR_IO_PENDING == 997 && ERROR_ABANDONED_WAIT_0 == 735 && ERROR_NETNAME_DELETED == 64);
CHECK(STATUS_PENDING == 0x103);
CHECK(TF_DISCONNECT == 1 && TF_REUSE_SOCKET == 2);
CHECK(AI_PASSIVE == 1 && AI_CANONNAME == 2 && AI_NUMERICHOST == 4);
CHECK(MAKEWORD(2, 2) == 0x0202 && LOBYTE(0x0201) == 1 && HIBYTE(0x0201) == 2);
CHECK(HEAP_ZERO_MEMORY == 8 && FORMAT_MESSAGE_FROM_SYSTEM == 0x1000 && FORMAT_MESSAGE_ALLOCATE_BUFFER == 0x100);
CHECK(CTRL_C_EVENT == 0 && CTRL_BREAK_EVENT == 1 && CTRL_CLOSE_EVENT == 2 && CTRL_LOGOFF_EVENT == 5 && CTRL_SHUTDOWN_EVENT == 6);
CHECK(FD_READ == 1 && FD_WRITE == 2 && FD_ACCEPT == 8 && FD_CONNECT == 16 && FD_CLOSE == 32);

int _tmain(int argc, _TCHAR *argv[])
{
    GUID accept_ex = WSAID_ACCEPTEX, connect_ex = WSAID_CONNECTEX;
    (void)argc;
    (void)argv;
    if (accept_ex.Data1 != 0xb5367df1 || accept_ex.Data4[7] != 0x92 || connect_ex.Data1 != 0x25a207b9) {
        printf("GUID values differ\n");
        return 1;
    }
    _tprintf(_T("ok\n"));
    return 0;
}
