"""Domain values -> the contract's camelCase JSON shapes (ids as strings)."""

from __future__ import annotations

from typing import Any

from ..domain.carts import Cart, CartItem
from ..domain.coupons import Coupon, CouponCheck, IssuedCoupon, UserCoupon
from ..domain.orders import Order, OrderLine, OrderPage, OrderSummary
from ..domain.products import PopularProduct, Product
from ..domain.users import BalanceChange, ChargeReceipt

Json = dict[str, Any]


def charge(receipt: ChargeReceipt) -> Json:
    return {
        "userId": receipt.user_id,
        "previousBalance": receipt.previous_balance,
        "chargedAmount": receipt.charged_amount,
        "currentBalance": receipt.current_balance,
        "chargedAt": receipt.charged_at.isoformat(),
    }


def balance_change(change: BalanceChange) -> Json:
    return {
        "amount": change.amount,
        "previousBalance": change.previous_balance,
        "currentBalance": change.current_balance,
        "reason": change.reason.value,
        "createdAt": change.created_at.isoformat(),
    }


def product(p: Product) -> Json:
    return {
        "productId": p.product_id,
        "name": p.name,
        "price": p.price,
        "stock": p.stock,
        "category": p.category,
    }


def popular(p: PopularProduct) -> Json:
    return {**product(p.product), "salesCount": p.sales_count}


def cart_item(item: CartItem) -> Json:
    return {
        "cartItemId": str(item.cart_item_id),
        "productId": item.product_id,
        "productName": item.product_name,
        "price": item.price,
        "quantity": item.quantity,
        "subtotal": item.subtotal,
    }


def cart(c: Cart) -> Json:
    return {
        "cartId": str(c.cart_id),
        "userId": c.user_id,
        "items": [cart_item(item) for item in c.items],
        "totalAmount": c.total_amount,
    }


def coupon(c: Coupon) -> Json:
    return {
        "couponId": c.coupon_id,
        "name": c.name,
        "discountType": c.discount_type.value,
        "discountValue": c.discount_value,
        "totalQuantity": c.total_quantity,
        "remainingQuantity": c.remaining_quantity,
        "minOrderAmount": c.min_order_amount,
        "expiresAt": c.expires_at.isoformat(),
    }


def issued_coupon(c: IssuedCoupon) -> Json:
    return {
        "userCouponId": str(c.user_coupon_id),
        "couponId": c.coupon_id,
        "userId": c.user_id,
        "issuedAt": c.issued_at.isoformat(),
        "expiresAt": c.expires_at.isoformat(),
        "remainingQuantity": c.remaining_quantity,
    }


def coupon_check(c: CouponCheck) -> Json:
    return {
        "valid": c.valid,
        "discountAmount": c.discount_amount,
        "finalAmount": c.final_amount,
        "message": c.message,
    }


def user_coupon(uc: UserCoupon, status: str) -> Json:
    return {
        "userCouponId": str(uc.user_coupon_id),
        "userId": uc.user_id,
        "couponId": uc.coupon.coupon_id,
        "name": uc.coupon.name,
        "discountType": uc.coupon.discount_type.value,
        "discountValue": uc.coupon.discount_value,
        "status": status,
        "issuedAt": uc.issued_at.isoformat(),
        "usedAt": None if uc.used_at is None else uc.used_at.isoformat(),
        "expiresAt": uc.coupon.expires_at.isoformat(),
    }


def order_line(line: OrderLine) -> Json:
    return {
        "productId": line.product_id,
        "productName": line.product_name,
        "price": line.price,
        "quantity": line.quantity,
        "subtotal": line.subtotal,
    }


def order(o: Order) -> Json:
    return {
        "orderId": str(o.order_id),
        "userId": o.user_id,
        "status": o.status.value,
        "items": [order_line(line) for line in o.lines],
        "totalAmount": o.total_amount,
        "discountAmount": o.discount_amount,
        "finalAmount": o.final_amount,
        "couponId": o.coupon_id,
        "createdAt": o.created_at.isoformat(),
    }


def order_summary(o: OrderSummary) -> Json:
    return {
        "orderId": str(o.order_id),
        "totalAmount": o.total_amount,
        "discountAmount": o.discount_amount,
        "finalAmount": o.final_amount,
        "status": o.status.value,
        "createdAt": o.created_at.isoformat(),
    }


def order_page(page: OrderPage) -> Json:
    return {
        "orders": [order_summary(o) for o in page.orders],
        "currentPage": page.current_page,
        "totalPages": page.total_pages,
        "totalCount": page.total_count,
    }
