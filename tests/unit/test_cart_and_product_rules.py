"""Cart and catalogue use cases on in-memory fakes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shop.domain.errors import CartItemNotFound, EmptyCart, ProductNotFound, UserNotFound
from shop.domain.orders import MAX_QUANTITY
from shop.domain.products import ProductSort
from shop.use_cases.carts import add_item, change_item, get_cart, remove_item
from shop.use_cases.orders import place_order
from shop.use_cases.products import get_product, list_products, popular_products

from .fakes import EPOCH, World


@pytest.fixture
def world() -> World:
    return World()


async def test_cart_is_created_on_first_use(world: World) -> None:
    user = world.user()
    first = await get_cart(deps=world.deps, user_id=user)
    assert (first.items, first.total_amount) == ((), 0)
    assert (await get_cart(deps=world.deps, user_id=user)).cart_id == first.cart_id


async def test_add_merges_lines_and_totals(world: World) -> None:
    user = world.user()
    world.product("book", price=1_500)
    world.product("pen", price=200)
    await add_item(deps=world.deps, user_id=user, product_id="book", quantity=1)
    merged = await add_item(deps=world.deps, user_id=user, product_id="book", quantity=2)
    assert merged.quantity == 3
    await add_item(deps=world.deps, user_id=user, product_id="pen", quantity=5)
    cart = await get_cart(deps=world.deps, user_id=user)
    assert [(i.product_id, i.quantity, i.subtotal) for i in cart.items] == [
        ("book", 3, 4_500),
        ("pen", 5, 1_000),
    ]
    assert cart.total_amount == 5_500


async def test_a_line_holds_at_most_the_maximum(world: World) -> None:
    user = world.user()
    world.product()
    await add_item(deps=world.deps, user_id=user, product_id="book", quantity=MAX_QUANTITY - 1)
    await add_item(deps=world.deps, user_id=user, product_id="book", quantity=1)
    with pytest.raises(EmptyCart) as refused:
        await add_item(deps=world.deps, user_id=user, product_id="book", quantity=1)
    assert refused.value.code == "O001"
    [item] = (await get_cart(deps=world.deps, user_id=user)).items
    assert item.quantity == MAX_QUANTITY


@pytest.mark.parametrize(
    ("user", "product", "refusal"),
    [("nobody", "book", UserNotFound), ("alice", "nothing", ProductNotFound)],
)
async def test_add_refusals_write_nothing(world: World, user: str, product: str, refusal) -> None:
    world.user("alice")
    world.product("book")
    with pytest.raises(refusal):
        await add_item(deps=world.deps, user_id=user, product_id=product, quantity=1)
    assert world.tables.lines == {}


async def test_change_and_remove_only_the_users_own_lines(world: World) -> None:
    alice, bob = world.user("alice"), world.user("bob")
    world.product()
    line = await add_item(deps=world.deps, user_id=alice, product_id="book", quantity=1)
    await get_cart(deps=world.deps, user_id=bob)
    changed = await change_item(
        deps=world.deps, user_id=alice, cart_item_id=line.cart_item_id, quantity=7
    )
    assert changed.quantity == 7
    for call in (
        change_item(deps=world.deps, user_id=bob, cart_item_id=line.cart_item_id, quantity=1),
        remove_item(deps=world.deps, user_id=bob, cart_item_id=line.cart_item_id),
        change_item(deps=world.deps, user_id="carol", cart_item_id=line.cart_item_id, quantity=1),
        remove_item(deps=world.deps, user_id=alice, cart_item_id=line.cart_item_id + 100),
    ):
        with pytest.raises(CartItemNotFound):
            await call
    assert world.tables.lines[line.cart_item_id].quantity == 7
    await remove_item(deps=world.deps, user_id=alice, cart_item_id=line.cart_item_id)
    assert (await get_cart(deps=world.deps, user_id=alice)).items == ()


async def test_cart_needs_a_known_user(world: World) -> None:
    with pytest.raises(UserNotFound):
        await get_cart(deps=world.deps, user_id="nobody")


async def test_listing_by_category_and_sort(world: World) -> None:
    world.product("b", price=300, category="BOOKS", created_at=EPOCH)
    world.product("a", price=300, category="BOOKS", created_at=EPOCH + timedelta(hours=1))
    world.product("c", price=100, category="FOOD", created_at=EPOCH + timedelta(hours=2))
    world.tables.products["b"].sales_count = 5

    async def ids(category: str | None, sort: ProductSort) -> list[str]:
        found = await list_products(deps=world.deps, category=category, sort=sort)
        return [p.product_id for p in found]

    assert await ids(None, ProductSort.PRICE) == ["c", "a", "b"]  # ties by id
    assert await ids(None, ProductSort.POPULARITY) == ["b", "a", "c"]
    assert await ids(None, ProductSort.NEWEST) == ["c", "a", "b"]
    assert await ids("BOOKS", ProductSort.PRICE) == ["a", "b"]
    assert await ids("TOYS", ProductSort.PRICE) == []


async def test_get_product(world: World) -> None:
    world.product("book", price=1_234)
    assert (await get_product(deps=world.deps, product_id="book")).price == 1_234
    with pytest.raises(ProductNotFound) as refused:
        await get_product(deps=world.deps, product_id="nothing")
    assert refused.value.code == "P001"


async def test_popular_counts_units_sold_in_the_window(world: World) -> None:
    world.user(balance=10**9)
    for pid in ("a", "b", "c"):
        world.product(pid, stock=100)

    async def buy(pid: str, quantity: int) -> None:
        await add_item(deps=world.deps, user_id="alice", product_id=pid, quantity=quantity)
        await place_order(deps=world.deps, user_id="alice", coupon_id=None)

    await buy("c", 50)  # sold before the window opens
    world.clock.now += timedelta(days=10)
    await buy("a", 2)
    await buy("b", 3)
    await buy("a", 2)
    found = await popular_products(deps=world.deps, days=7, limit=5)
    assert [(p.product.product_id, p.sales_count) for p in found] == [("a", 4), ("b", 3)]
    assert len(await popular_products(deps=world.deps, days=7, limit=1)) == 1
    assert len(await popular_products(deps=world.deps, days=30, limit=5)) == 3
